// Where the CPU went during a PostgreSQL baseline run: the postgres server
// processes and pgbench are not our children we can name by pid in advance
// (backends start with the run, pgbench exits at its end), so their CPU time
// is polled from /proc by command name every 200 ms, each pid's last reading
// kept. What a process used in its last ≤ 200 ms before exiting is missed.

import { readdirSync, readFileSync } from 'node:fs';
import { cpuTimes } from './proc.js';

function ticksByName(names: ReadonlySet<string>): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.has(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export type GroupCpu = { readonly group: number | null; readonly others: number | null; readonly busy: number | null };

/** CPU share of the machine used by processes named `names` (and by everything else) from construction to finish(). */
export class NamedProcessMeter {
  private readonly system = cpuTimes();
  private readonly start: Map<number, number>;
  private readonly last = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly names: ReadonlySet<string>) {
    this.start = ticksByName(names);
    this.timer = setInterval(() => this.poll(), 200);
    this.timer.unref();
  }

  private poll(): void {
    for (const [pid, ticks] of ticksByName(this.names)) this.last.set(pid, ticks);
  }

  finish(): GroupCpu {
    this.poll();
    clearInterval(this.timer);
    const now = cpuTimes();
    if (!this.system || !now || now.total === this.system.total) return { group: null, others: null, busy: null };
    let used = 0;
    for (const [pid, ticks] of this.last) used += ticks - (this.start.get(pid) ?? 0);
    const total = now.total - this.system.total;
    const busy = (now.busy - this.system.busy) / total;
    return { group: used / total, others: Math.max(0, busy - used / total), busy };
  }
}
