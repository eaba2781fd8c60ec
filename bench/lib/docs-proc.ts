// Machine-side measurements of the document benchmark: where the CPU went
// during a phase (the system under test, this process — the clients — and
// everything else, so a busy machine shows in the report), waiting for the
// server to go quiet after a load (flushes and compactions would otherwise
// be charged to the next phase), and the size of a data directory.

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cpuTimes, processCpuTicks } from './proc.js';
import { NamedProcessMeter } from './txn-cpu.js';

/** Shares (0..1) of the whole machine's CPU time over a phase; null when /proc says nothing. */
export type PhaseCpu = { readonly server: number | null; readonly client: number | null; readonly others: number | null };

/**
 * Started before a phase, finished after it. The server is either one
 * process (MantisDB: every shard is a thread of it) or, for PostgreSQL, every
 * process named "postgres" (backends come and go, so they are polled).
 */
export class PhaseCpuMeter {
  private readonly system = cpuTimes();
  private readonly self = processCpuTicks(process.pid);
  private readonly serverStart: number | null;
  private readonly pg: NamedProcessMeter | null;

  constructor(private readonly server: { readonly pid: number } | 'postgres') {
    this.pg = server === 'postgres' ? new NamedProcessMeter(new Set(['postgres'])) : null;
    this.serverStart = server === 'postgres' ? null : processCpuTicks(server.pid);
  }

  finish(): PhaseCpu {
    const pgCpu = this.pg?.finish() ?? null;
    const now = cpuTimes();
    const self = processCpuTicks(process.pid);
    if (this.system === null || now === null || now.total === this.system.total) return { server: null, client: null, others: null };
    const total = now.total - this.system.total;
    const busy = (now.busy - this.system.busy) / total;
    const client = self === null || this.self === null ? null : (self - this.self) / total;
    let server: number | null = pgCpu?.group ?? null;
    if (this.server !== 'postgres') {
      const ticks = processCpuTicks(this.server.pid);
      server = ticks === null || this.serverStart === null ? null : (ticks - this.serverStart) / total;
    }
    const others = server === null || client === null ? null : Math.max(0, busy - server - client);
    return { server, client, others };
  }
}

/**
 * Waits until the process used less than `quietShare` of one core over a
 * 500 ms window, or `maxMs` passed; returns how long it waited.
 */
export async function waitQuiet(pid: number, maxMs: number, quietShare = 0.05): Promise<number> {
  const start = performance.now();
  const ticksPerSecond = 100; // USER_HZ on Linux
  while (performance.now() - start < maxMs) {
    const before = processCpuTicks(pid);
    await new Promise((r) => setTimeout(r, 500));
    const after = processCpuTicks(pid);
    if (before === null || after === null) break;
    if ((after - before) / ticksPerSecond / 0.5 < quietShare) break;
  }
  return performance.now() - start;
}

/** Sum of the sizes of the regular files under `dir` (null when it cannot be read). */
export function dirBytes(dir: string): number | null {
  try {
    let sum = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) sum += dirBytes(path) ?? 0;
      else if (entry.isFile()) sum += statSync(path).size;
    }
    return sum;
  } catch {
    return null;
  }
}
