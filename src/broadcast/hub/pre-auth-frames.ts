/** How much a client may send before its token is checked. */
export interface PreAuthLimits {
  frames: number;
  bytes: number;
}

/**
 * The frames a client sends while its token is being checked (a JWT, a session looked up in the
 * database), kept to be handled in order once the connection exists. Bounded: a client nobody has
 * authorised yet must not make the server hold more than a few frames for it.
 */
export class PreAuthFrames {
  private held: [Buffer, boolean][] = [];
  /** Everything received before the check, for the log line when it was too much. */
  frames = 0;
  bytes = 0;

  constructor(private readonly limits: PreAuthLimits) {}

  /** Keeps one frame; false once the frames or bytes received pass the limits (then nothing is kept). */
  hold(data: Buffer, isBinary: boolean): boolean {
    this.frames++;
    this.bytes += data.length;
    if (this.frames > this.limits.frames || this.bytes > this.limits.bytes) {
      this.held = [];
      return false;
    }
    this.held.push([data, isBinary]);
    return true;
  }

  /** The frames kept, oldest first; none are kept afterwards. */
  take(): [Buffer, boolean][] {
    const frames = this.held;
    this.held = [];
    return frames;
  }
}
