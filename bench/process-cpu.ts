/**
 * CPU time used by a process and all its descendants (Linux /proc), for the
 * benches' CPU-per-request figures: on a shared machine, requests/s swing
 * with the neighbours' load, while CPU spent per request moves far less.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on Linux everywhere). */
const TICKS_PER_SECOND = 100;

/** Fields after the command name (which may hold spaces and parentheses) of /proc/<pid>/stat; undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of `root` and every process below it, as of now (exited descendants' time is not counted). */
export function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    // After the name: state (0), ppid (1), ... utime (11), stime (12).
    const parent = Number(statFields(pid)?.[1]);
    children.set(parent, [...(children.get(parent) ?? []), pid]);
  }
  let ticks = 0;
  for (const pending = [root]; pending.length > 0; ) {
    const pid = pending.pop()!;
    const fields = statFields(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
    pending.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}
