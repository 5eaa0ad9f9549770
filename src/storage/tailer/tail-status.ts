import type { Follower } from './follower.js';

export interface TailFileStatus {
  path: string;
  /** The configured glob the file matched. */
  source: string;
  id: string;
  objectKey: string | null;
  offset: number;
  size: number;
  lagBytes: number;
  lagSeconds: number;
  rotated: boolean;
  lastError: string | null;
  /** Why `objectKey` is a continuation key (the day's object took no more appends), else null. */
  continued: string | null;
}

export interface TailStatus {
  files: TailFileStatus[];
  /** False while the last attempt to write to the store failed. */
  storeUp: boolean;
  lagBytes: number;
  lagSeconds: number;
}

/** What the tailer says of its files: each one's offset and lag, and the sums. */
export function tailStatus(followers: Follower[], now: number): TailStatus {
  const files = followers.map((follower): TailFileStatus => {
    const lagBytes = Math.max(0, follower.sizeNow - follower.row.offset);
    return {
      path: follower.row.path,
      source: follower.source.glob,
      id: follower.id,
      objectKey: follower.row.objectKey,
      offset: follower.row.offset,
      size: follower.sizeNow,
      lagBytes,
      lagSeconds: lagBytes && follower.unshippedSince ? (now - follower.unshippedSince) / 1000 : 0,
      rotated: follower.rotatedAt !== null,
      lastError: follower.lastError,
      continued: follower.continuation && `${follower.continuation.base}: ${follower.continuation.why}`,
    };
  });
  return {
    files,
    // A refused key says nothing of the store: it is this file's name against the key rules.
    storeUp: followers.every((follower) => follower.lastError === null || follower.keyRefused),
    lagBytes: files.reduce((sum, file) => sum + file.lagBytes, 0),
    lagSeconds: files.reduce((most, file) => Math.max(most, file.lagSeconds), 0),
  };
}
