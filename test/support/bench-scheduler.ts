/**
 * How the bench runs its test files: each file is a job (`node --test` on that one file, on one Node
 * line), `slots` of them at a time. A file that needs an engine tests cannot share (the Docker Engine,
 * MariaDB, whose server some files restart or reconfigure, Redis, pebble's fixed challenge ports) waits
 * until no running file holds it; Chromium is started per test and is shared. Of the jobs that may start,
 * the one that took longest last time starts first (as Jest orders by its cache of durations), so the long
 * chains behind one engine begin at once instead of ending the run alone.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { EngineName } from './bench-engines.js';

/** Engines one file at a time: the others (Chromium) start per test. */
const EXCLUSIVE: ReadonlySet<EngineName> = new Set<EngineName>(['docker', 'mariadb', 'redis', 'pebble']);
/** A file still running then is stopped: a failure that leaves a handle open never exits, and node --test waits for it. */
const FILE_LIMIT_MINUTES = 10;
/** Durations by job key from the last runs on this machine (seconds), for the order. */
const DURATIONS = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dozen', 'test-durations.json');
/** Before a first run (CI's every run): a Docker file builds and starts containers, another engine's file starts dozens, the rest take seconds. */
const GUESS_SECONDS = { docker: 40, engine: 20, none: 5 };

export interface Job {
  /** The built test file. */
  file: string;
  /** As the output and the failure lines name it: the file relative to dist/, and the Node line when not the bench's own. */
  label: string;
  engines: ReadonlySet<EngineName>;
  /** Resolves once what the job needs is up (engines, its Node line): the node binary and env to run it with. */
  ready: Promise<{ node: string; env: NodeJS.ProcessEnv }>;
  /** Where the failure reporter writes this job's failed tests. */
  failures: string;
}

export interface JobResult {
  job: Job;
  passed: boolean;
  seconds: number;
}

interface Options {
  slots: number;
  reporter: string;
  say: (line: string) => void;
}

/** Runs every job, `slots` at a time under the engine rule above; resolves with each job's result. */
export function runJobs(jobs: Job[], { slots, reporter, say }: Options): Promise<JobResult[]> {
  const known = readDurations();
  const estimate = (job: Job) => known[job.label] ?? (job.engines.has('docker') ? GUESS_SECONDS.docker : job.engines.size ? GUESS_SECONDS.engine : GUESS_SECONDS.none);
  const waiting = [...jobs].sort((a, b) => estimate(b) - estimate(a));
  const prepared = new Map<Job, { node: string; env: NodeJS.ProcessEnv } | Error>();
  const held = new Set<EngineName>();
  const exclusiveOf = (job: Job) => [...job.engines].filter((engine) => EXCLUSIVE.has(engine));
  const results: JobResult[] = [];
  let running = 0;
  let ended = false;

  return new Promise((resolveAll) => {
    const pump = () => {
      if (ended) return;
      while (running < slots) {
        const index = waiting.findIndex((job) => prepared.has(job) && !exclusiveOf(job).some((engine) => held.has(engine)));
        if (index < 0) break;
        const [job] = waiting.splice(index, 1);
        const how = prepared.get(job)!;
        if (how instanceof Error) {
          say(`FAILED ${job.label}: ${how.message}`);
          writeFileSync(job.failures, `${job.label}: not run: ${how.message}\n`);
          results.push({ job, passed: false, seconds: 0 });
          continue;
        }
        running++;
        const claimed = exclusiveOf(job);
        for (const engine of claimed) held.add(engine);
        void runOne(job, how, reporter, say).then((result) => {
          running--;
          for (const engine of claimed) held.delete(engine);
          results.push(result);
          pump();
        });
      }
      if (!waiting.length && !running) {
        ended = true;
        writeDurations(known, results);
        resolveAll(results);
      }
    };
    for (const job of jobs) {
      job.ready.then(
        (how) => prepared.set(job, how),
        (error: Error) => prepared.set(job, error),
      ).finally(pump);
    }
  });
}

/** `node --test` on the job's file; its output printed in one piece when it ends, so files side by side do not interleave. */
function runOne(job: Job, how: { node: string; env: NodeJS.ProcessEnv }, reporter: string, say: (line: string) => void): Promise<JobResult> {
  const started = Date.now();
  const reporters = ['--test-reporter=spec', '--test-reporter-destination=stdout', `--test-reporter=${reporter}`, `--test-reporter-destination=${job.failures}`];
  return new Promise((resolveJob) => {
    const child = spawn(how.node, ['--test', ...reporters, job.file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOZEN_TEST_BENCH: '1', ...how.env } });
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    const limit = setTimeout(() => {
      say(`${job.label} ran over ${FILE_LIMIT_MINUTES} min (a test file that does not exit?): stopping it`);
      child.kill('SIGTERM');
    }, FILE_LIMIT_MINUTES * 60_000);
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      process.stdout.write(Buffer.concat(output));
      const seconds = (Date.now() - started) / 1000;
      const passed = code === 0 && !signal;
      say(`${passed ? 'passed' : 'FAILED'} ${job.label} in ${seconds.toFixed(0)} s`);
      resolveJob({ job, passed, seconds });
    });
  });
}

function readDurations(): Record<string, number> {
  try {
    return existsSync(DURATIONS) ? (JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>) : {};
  } catch {
    return {}; // a damaged cache only costs the order
  }
}

/** Keeps what this run measured (a filtered run adds to the rest) for the next run's order. */
function writeDurations(known: Record<string, number>, results: JobResult[]): void {
  for (const { job, seconds } of results) if (seconds > 0) known[job.label] = Math.round(seconds);
  try {
    mkdirSync(join(DURATIONS, '..'), { recursive: true });
    writeFileSync(DURATIONS, `${JSON.stringify(known, null, 1)}\n`);
  } catch {
    // A read-only home: the next run guesses the order again.
  }
}
