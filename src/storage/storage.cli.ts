import { InvalidArgumentError, type Command } from 'commander';
import { CliError, configFor, run } from '../cli/program.js';
import { addServerOptions, DozenClient } from '../cli/client.js';
import { keyTemplateProblem } from './tailer/key-template.js';

const MIB = 1024 * 1024;

/** Commander calls it while it parses, outside `run`: its own error is what it reports in one line (a CliError came out as a stack trace). */
function parseSize(value: string): number {
  const match = /^(\d+)([kmg]i?b?)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a size like 8MiB or 1048576');
  const unit = (match[2] ?? '').toLowerCase()[0];
  return Number(match[1]) * (unit === 'k' ? 1024 : unit === 'm' ? MIB : unit === 'g' ? 1024 * MIB : 1);
}

/** A `--key` template the store could never take is refused here, not retried by the tailer for ever. */
function parseKeyTemplate(value: string): string {
  const problem = keyTemplateProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

/** `dozen upload` (the original ossUploader) and `dozen tail` (the original gtail). */
export function addStorageCommands(program: Command): void {
  addServerOptions(
    program
      .command('upload <path> <key>')
      .description("store a file (or a directory, recursively under <key>/) through this host's dozen; exits 0 only when every byte is stored and its CRC64 matches")
      .option('--part-size <size>', 'part size for resumable uploads', parseSize, 16 * MIB)
      .option('--threshold <size>', 'files above this size use resumable uploads', parseSize, 64 * MIB)
      .option('--parallel <count>', 'parts in flight at once (a part is answered once it is synced to disk: several hide that wait)', (value) => Number(value), 4)
      .option('--no-overwrite', 'refuse to replace an existing object (If-None-Match: *)')
      .option('--content-type <type>', 'content type of the object (default: from the name)')
      .option('--json', 'print one JSON line per stored file'),
  ).action(
    run(async (path: string, key: string, options: { partSize: number; threshold: number; parallel: number; overwrite: boolean; contentType?: string; json?: boolean }, command: Command) => {
      if (options.partSize < 100 * 1024) throw new CliError('--part-size: at least 100KiB');
      if (!Number.isInteger(options.parallel) || options.parallel < 1) throw new CliError('--parallel: a whole number, at least 1');
      if (options.contentType !== undefined) {
        // Loaded here, not at the top: every host loads the CLI files, and a host without storage loads none of its code.
        const { isMediaType, MEDIA_TYPE_RULE } = await import('./media-type.js');
        if (!isMediaType(options.contentType)) throw new CliError(`--content-type: ${MEDIA_TYPE_RULE}`, 2);
      }
      const client = DozenClient.fromCommand(command);
      const { filesToUpload, uploadFile } = await import('./client/uploader.js');
      const files = await filesToUpload(path, key);
      const total = files.reduce((sum, file) => sum + file.size, 0);
      const bar = process.stderr.isTTY ? new ProgressBar(total) : null;
      let before = 0;
      for (const file of files) {
        const result = await uploadFile(client, file.file, file.key, {
          partSize: options.partSize,
          threshold: options.threshold,
          parallel: options.parallel,
          ifNoneMatch: !options.overwrite,
          contentType: options.contentType,
          progress: bar ? (done) => bar.show(before + done, file.key) : undefined,
        });
        before += file.size;
        if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
      }
      bar?.finish();
    }),
  );

  program
    .command('tail')
    .description('follow log files and ship every new line to the object store (the tailer alone, without the server); stops on SIGTERM/SIGINT')
    .option('--glob <glob>', 'files to follow (default: storage.tail from the config)')
    .option('--key <template>', 'object key template with {host} {app} {file} {date}', parseKeyTemplate, 'logs/{host}/{file}/{date}.log')
    .option('--app <name>', 'value of {app}')
    .action(
      run(async (options: { glob?: string; key: string; app?: string }, command: Command) => {
        const { config } = configFor(command);
        const sources = options.glob ? [{ glob: options.glob, key: options.key, app: options.app }] : config.storage.tail;
        if (!sources.length) throw new CliError('nothing to follow: give --glob or set storage.tail in the config', 2);
        const { runTailer } = await import('./tailer/standalone.js');
        await runTailer(config, sources);
      }),
    );
}

/** One line on stderr, redrawn at most 10 times a second. */
class ProgressBar {
  private last = 0;
  constructor(private readonly total: number) {}

  show(done: number, key: string): void {
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const fraction = this.total ? done / this.total : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(1).padStart(5)}% ${(done / MIB).toFixed(1)}/${(this.total / MIB).toFixed(1)} MiB ${key.slice(-40)}\x1b[K`);
  }

  finish(): void {
    process.stderr.write('\n');
  }
}
