import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ (clock ticks per second in /proc/<pid>/stat); 100 on every mainstream kernel build. */
const TICKS_PER_SECOND = 100;
const PAGE_SIZE = 4096;

interface ProcessStat {
  pid: number;
  parent: number;
  /** utime + stime, in ticks. */
  ticks: number;
  /** Resident pages. */
  rss: number;
}

/** Fields of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so split after its last `)`. */
export function parseStat(pid: number, text: string): ProcessStat {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state(3) ppid(4) ... utime(14) stime(15) ... rss(24), i.e. index = field number - 3.
  return { pid, parent: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), rss: Number(fields[21]) };
}

/** The process and all its descendants, from /proc. Empty when the process is gone. */
function processTree(root: number): ProcessStat[] {
  const all: ProcessStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      all.push(parseStat(Number(name), readFileSync(`/proc/${name}/stat`, 'utf8')));
    } catch {
      // The process ended between readdir and read: it is simply not part of the tree any more.
    }
  }
  const inTree = new Set<number>();
  if (!all.some((stat) => stat.pid === root)) return [];
  inTree.add(root);
  for (let grew = true; grew; ) {
    grew = false;
    for (const stat of all) {
      if (!inTree.has(stat.pid) && inTree.has(stat.parent)) {
        inTree.add(stat.pid);
        grew = true;
      }
    }
  }
  return all.filter((stat) => inTree.has(stat.pid));
}

/**
 * CPU %, resident memory and process count of a process and its children,
 * from /proc (what `dozen register --pid` reports every second). CPU is the
 * share of one core used since the previous sample.
 */
export class ProcessLoadSampler {
  private previous: { ticks: number; at: number } | null = null;

  constructor(private readonly pid: number) {}

  /** null when the process is gone. */
  sample(): { cpu: number; memory: number; processes: number } | null {
    const tree = processTree(this.pid);
    if (!tree.length) return null;
    const ticks = tree.reduce((sum, stat) => sum + stat.ticks, 0);
    const at = Date.now();
    const cpu = this.previous && at > this.previous.at ? Math.max(0, ((ticks - this.previous.ticks) / TICKS_PER_SECOND / ((at - this.previous.at) / 1000)) * 100) : 0;
    this.previous = { ticks, at };
    return { cpu: Math.round(cpu * 10) / 10, memory: tree.reduce((sum, stat) => sum + stat.rss, 0) * PAGE_SIZE, processes: tree.length };
  }
}
