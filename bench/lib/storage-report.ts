// The storage benchmark's printed tables and target checks: every MantisDB
// figure beside LevelDB's from the same run.

import type { HttpResult, LatencySummary } from './storage-http.js';
import type { PhaseId, PhaseResult } from './storage-phases.js';
import { table } from './report.js';

export type Measured = PhaseResult & { readonly othersCpu: number | null };

export type EngineSummary = {
  /** Bytes passed to write() syscalls over both write phases incl. settling / user bytes written. */
  readonly writeAmp: number | null;
  /** Same with /proc/<pid>/io write_bytes (pages dirtied) in the numerator. */
  readonly writeAmpDirtied: number | null;
  /** Tables (+ WAL where the engine counts it) by the engine's own counters / user bytes. */
  readonly writeAmpEngine: number | null;
  readonly diskBytes: number;
  readonly liveUserBytes: number;
  readonly spaceAmp: number;
  readonly layout: string;
  /** Write batches that had to wait for a flush or compaction (MantisDB only), how long, and how many for level 0. */
  readonly writeStalls: number;
  readonly writeStallMs: number;
  readonly level0Stalls: number;
  /** MantisDB's pool tasks during the writes: count, mean and max ms from posting to result. */
  readonly poolTasks: string;
  readonly reopenMs: number;
};

/** noise: the largest share of CPU other processes used during the measurements behind it (null: unknown). */
export type TargetCheck = { readonly target: string; readonly measured: string; readonly met: boolean | null; readonly noise: number | null };

const NOISY_SHARE = 0.15;

const PHASE_LABEL: Record<PhaseId, string> = {
  'seq-write': 'sequential writes (batches of 100)',
  'random-write': 'random writes / overwrites (batches of 100)',
  'cold-read': 'random reads, cold (reopened, page cache dropped)',
  'repeat-read': 'random reads, same keys again (page cache warm)',
  'warm-read': 'random reads, warm block cache (hot set)',
  scan: 'prefix scans of 100 keys',
};

export const fmtRate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0));
export const fmtMiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const fmtX = (x: number | null): string => (x === null || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}×`);
const fmtMs = (ms: number): string => (Number.isFinite(ms) ? `${ms.toFixed(2)} ms` : 'n/a');
const withSettle = (r: Measured): number => r.ops / ((r.ms + r.settleMs) / 1000);
const fmtUs = (us: number | undefined): string => (us === undefined ? '—' : us.toFixed(0));
const perOp = (n: number | null, ops: number, digits = 2): string => (n === null ? 'n/a' : (n / ops).toFixed(digits));

export function phaseTable(results: readonly Measured[]): string {
  const phases = [...new Set(results.map((r) => r.phase))];
  const rows = phases.map((phase) => {
    const m = results.find((r) => r.phase === phase && r.engine === 'mantis');
    const l = results.find((r) => r.phase === phase && r.engine === 'leveldb');
    const isRead = phase.endsWith('-read');
    const readKiB = (r: Measured | undefined): string => (r?.io == null ? 'n/a' : (r.io.readBytes / 1024 / r.ops).toFixed(1));
    const hitShare = m && m.blocksRead !== null && m.blockCacheHits !== null && m.blocksRead + m.blockCacheHits > 0 ? `${((100 * m.blockCacheHits) / (m.blocksRead + m.blockCacheHits)).toFixed(0)}%` : 'n/a';
    return [
      PHASE_LABEL[phase],
      m ? fmtRate(m.opsPerSec) : '—',
      l ? fmtRate(l.opsPerSec) : '—',
      m && l ? fmtX(m.opsPerSec / l.opsPerSec) : 'n/a',
      !isRead && phase !== 'scan' && m && l ? fmtX(withSettle(m) / withSettle(l)) : '',
      isRead || phase === 'scan' ? (m ? perOp(m.blocksRead, m.ops) : '—') : '',
      isRead ? hitShare : '',
      isRead || phase === 'scan' ? `${readKiB(m)} / ${readKiB(l)}` : '',
      !isRead && phase !== 'scan' ? `${m ? (m.settleMs / 1000).toFixed(1) : '—'} / ${l ? (l.settleMs / 1000).toFixed(1) : '—'}` : '',
      isRead ? `${fmtUs(m?.latencyUs?.p99)} / ${fmtUs(l?.latencyUs?.p99)}` : '',
      `${m?.othersCpu == null ? '?' : (m.othersCpu * 100).toFixed(0)}% / ${l?.othersCpu == null ? '?' : (l.othersCpu * 100).toFixed(0)}%`,
    ];
  });
  return table(
    ['phase', 'MantisDB ops/s', 'LevelDB ops/s', 'Mantis/LevelDB', 'same incl. settle', 'Mantis blocks read/op', 'Mantis block-cache hits', 'disk KiB read/op M / L', 'settle s M / L', 'get p99 µs M / L', "others' CPU M / L"],
    rows,
    [false, true, true, true, true, true, true, true, true, true, true],
  );
}

export function amplificationTable(m: EngineSummary, l: EngineSummary): string {
  const rows = [
    ['write amplification: write() syscall bytes / user bytes (both write phases + settling)', fmtX(m.writeAmp), fmtX(l.writeAmp)],
    ['  same, pages dirtied (/proc/self/io write_bytes) / user bytes', fmtX(m.writeAmpDirtied), fmtX(l.writeAmpDirtied)],
    ["  engine's own counters: Mantis tables + WAL; LevelDB leveldb.stats Write(MB), tables only", fmtX(m.writeAmpEngine), fmtX(l.writeAmpEngine)],
    ['space amplification: directory bytes after settling / live user bytes (< 1: both compress)', fmtX(m.spaceAmp), fmtX(l.spaceAmp)],
    ['  directory bytes (tables + WAL/log + manifest)', fmtMiB(m.diskBytes), fmtMiB(l.diskBytes)],
    ['  live user bytes (newest key + value of every key)', fmtMiB(m.liveUserBytes), fmtMiB(l.liveUserBytes)],
    ['  tables per level after settling', m.layout || '—', l.layout || '—'],
    [
      'write batches stalled: count (level 0 full / memtables full), total wait',
      `${m.writeStalls} (${m.level0Stalls} / ${m.writeStalls - m.level0Stalls}), ${(m.writeStallMs / 1000).toFixed(1)} s`,
      'n/a (not visible)',
    ],
    ['pool tasks during the writes (ms from posting to result, queueing included)', m.poolTasks, 'n/a'],
    ['reopen (page cache dropped first)', Number.isNaN(m.reopenMs) ? 'n/a' : `${m.reopenMs.toFixed(0)} ms`, Number.isNaN(l.reopenMs) ? 'n/a' : `${l.reopenMs.toFixed(0)} ms`],
  ];
  return table(['figure', 'MantisDB', 'LevelDB'], rows, [false, true, true]);
}

const latencyRow = (label: string, s: LatencySummary): string[] => [
  label,
  String(s.requests),
  fmtRate(s.requests / s.seconds),
  fmtMs(s.p50),
  fmtMs(s.p90),
  fmtMs(s.p99),
  fmtMs(s.max),
  s.wrong === 0 ? '0' : `!! ${s.wrong}`,
  s.othersCpu === null ? '?' : `${(s.othersCpu * 100).toFixed(0)}%`,
];

export function httpTable(h: HttpResult): string {
  const rows = h.runs.flatMap((r) => [
    latencyRow(`cold, ${r.connections} conn: after restart, page cache dropped`, r.cold),
    latencyRow(`warm, ${r.connections} conn: the same keys again`, r.warm),
  ]);
  return table(
    ['HTTP GET of random existing keys', 'requests', 'req/s', 'p50', 'p90', 'p99', 'max', 'wrong', "others' CPU"],
    rows,
    [false, true, true, true, true, true, true, false, true],
  );
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  return table(
    ['target (issue 3)', 'measured', 'result'],
    checks.map((c) => [
      c.target,
      c.measured,
      (c.met === null ? 'not measured' : c.met ? 'PASS' : 'MISS') + (c.noise !== null && c.noise > NOISY_SHARE ? ` (noisy: others used ${(c.noise * 100).toFixed(0)}% of the CPU)` : ''),
    ]),
    [false, true, false],
  );
}

export function checkTargets(results: readonly Measured[], mantis: EngineSummary, http: HttpResult | null): TargetCheck[] {
  const ratio = (phase: PhaseId): { r: number | null; text: string; noise: number | null } => {
    const m = results.find((x) => x.phase === phase && x.engine === 'mantis');
    const l = results.find((x) => x.phase === phase && x.engine === 'leveldb');
    if (!m || !l) return { r: null, text: 'n/a', noise: null };
    const r = m.opsPerSec / l.opsPerSec;
    return { r, text: `${r.toFixed(2)}× (${fmtRate(m.opsPerSec)} vs ${fmtRate(l.opsPerSec)} ops/s)`, noise: Math.max(m.othersCpu ?? 0, l.othersCpu ?? 0) };
  };
  const rw = ratio('random-write');
  const wr = ratio('warm-read');
  return [
    { target: 'random writes ≥ 0.5× LevelDB', measured: rw.text, met: rw.r === null ? null : rw.r >= 0.5, noise: rw.noise },
    { target: 'warm random reads ≥ 0.5× LevelDB', measured: wr.text, met: wr.r === null ? null : wr.r >= 0.5, noise: wr.noise },
    { target: 'write amplification ≤ 12', measured: fmtX(mantis.writeAmp), met: mantis.writeAmp === null ? null : mantis.writeAmp <= 12, noise: null },
    {
      target: 'cold random GET over HTTP p99 ≤ 5 ms (judged at the most connections)',
      measured: http === null ? 'not run' : http.runs.map((r) => `${fmtMs(r.cold.p99)} at ${r.connections} conn`).join(', '),
      met: http === null ? null : http.cold.p99 <= 5 && http.cold.wrong === 0,
      noise: http?.cold.othersCpu ?? null,
    },
  ];
}
