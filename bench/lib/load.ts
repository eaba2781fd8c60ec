// Load generation: wrk when it is installed (parsing its text report),
// otherwise autocannon through its programmatic API.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { processCpuTicks } from './proc.js';
import { requestGenerator, type ExtraHeaders, type Kind, type PlainRequest } from './scenarios.js';

export type Tool = 'wrk' | 'autocannon';

export type LoadSettings = { readonly durationS: number; readonly connections: number; readonly threads: number };

export type LoadResult = {
  readonly tool: Tool;
  readonly requests: number;
  readonly durationS: number;
  readonly requestsPerSec: number;
  readonly latencyMs: { avg: number | null; p50: number | null; p75: number | null; p90: number | null; p99: number | null; max: number | null };
  /** Responses with status ≥ 400 (wrk reports "Non-2xx or 3xx"; autocannon non-2xx). */
  readonly non2xx: number;
  readonly socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** CPU ticks the load generator used when it ran as a separate process (wrk); 0 when in-process. */
  readonly toolCpuTicks: number;
  /** The tool's own report, kept for the JSON results. */
  readonly raw: string;
};

const active = new Set<ChildProcess>();
const activeCannons = new Set<{ stop: () => void }>();

/** Stops any load generator still running (used by the cleanup path). */
export function stopActiveLoad(): void {
  for (const child of active) child.kill('SIGKILL');
  for (const cannon of activeCannons) cannon.stop();
}

export function chooseTool(): Tool {
  const forced = process.env.BENCH_TOOL;
  if (forced === 'wrk' || forced === 'autocannon') return forced;
  if (forced !== undefined && forced !== '') throw new Error(`BENCH_TOOL must be wrk or autocannon, got "${forced}"`);
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  return probe.error ? 'autocannon' : 'wrk';
}

export function wrkVersion(): string | null {
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (probe.error) return null;
  return `${probe.stdout}${probe.stderr}`.split('\n')[0].trim();
}

// ---- wrk -------------------------------------------------------------------

const TIME_UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  const scale = TIME_UNIT_MS[unit];
  if (scale === undefined) throw new Error(`wrk: unknown time unit "${unit}"`);
  return Number(value) * scale;
}

/** Parses wrk 4.x's text report (with --latency). Throws if the essentials are missing. */
export function parseWrk(text: string): Omit<LoadResult, 'tool' | 'raw' | 'toolCpuTicks'> {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),/m.exec(text);
  if (!rps || !total) throw new Error(`wrk: cannot parse the report:\n${text}`);
  const percentile = (p: number): number | null => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
    return m ? toMs(m[1], m[2]) : null;
  };
  const stats = /^\s+Latency\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)\s+([\d.]+)(us|ms|s|m|h)/m.exec(text);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: Number(total[1]),
    durationS: toMs(total[2], total[3]) / 1000,
    requestsPerSec: Number(rps[1]),
    latencyMs: {
      avg: stats ? toMs(stats[1], stats[2]) : null,
      p50: percentile(50),
      p75: percentile(75),
      p90: percentile(90),
      p99: percentile(99),
      max: stats ? toMs(stats[5], stats[6]) : null,
    },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock
      ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
  };
}

export function runWrk(url: string, scriptPath: string, settings: LoadSettings): Promise<LoadResult> {
  const args = [`-t${settings.threads}`, `-c${settings.connections}`, `-d${settings.durationS}s`, '--latency', '-s', scriptPath, url];
  return new Promise<LoadResult>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    active.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const watchdog = setTimeout(() => child.kill('SIGKILL'), (settings.durationS + 60) * 1000);
    // wrk's CPU time, polled (the last poll is at most 100 ms before it exits).
    let cpuTicks = 0;
    const cpuPoll = setInterval(() => {
      if (child.pid !== undefined) cpuTicks = processCpuTicks(child.pid) ?? cpuTicks;
    }, 100);
    child.on('error', (error) => {
      clearTimeout(watchdog);
      clearInterval(cpuPoll);
      active.delete(child);
      reject(new Error(`wrk: cannot start: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      clearInterval(cpuPoll);
      active.delete(child);
      if (code !== 0) {
        reject(new Error(`wrk ${args.join(' ')} exited with code ${code} signal ${signal}\n${out}\n${err}`));
        return;
      }
      try {
        const raw = err.trim() === '' ? out : `${out}\n[stderr]\n${err}`;
        resolve({ tool: 'wrk', raw, toolCpuTicks: cpuTicks, ...parseWrk(out) });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

// ---- autocannon ------------------------------------------------------------

type CannonRequest = { method?: string; path?: string; headers?: Record<string, string>; body?: string; setupRequest?: (req: CannonRequest) => CannonRequest };
type CannonHistogram = { average: number; mean?: number; p50: number; p75: number; p90: number; p99: number; max: number; total?: number };
type CannonResult = {
  requests: CannonHistogram & { total: number };
  latency: CannonHistogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number | string }>;
};
type CannonInstance = Promise<CannonResult> & { stop: () => void };
type Autocannon = (options: { url: string; connections: number; duration: number; requests: CannonRequest[] }) => CannonInstance;

// autocannon ships no type declarations: load it through require and give
// it the small shape used here.
const requireCjs = createRequire(import.meta.url);

/** `extraHeaders` go on every request (as luaScript's do for wrk). */
export async function runAutocannon(url: string, kind: Kind, settings: LoadSettings, extraHeaders: ExtraHeaders = {}): Promise<LoadResult> {
  const autocannon = requireCjs('autocannon') as Autocannon;
  const next = requestGenerator(kind, extraHeaders);
  const setupRequest = (req: CannonRequest): CannonRequest => {
    const generated: PlainRequest = next();
    return { ...req, method: generated.method, path: generated.path, headers: generated.headers, body: generated.body };
  };
  const instance = autocannon({ url, connections: settings.connections, duration: settings.durationS, requests: [{ setupRequest }] });
  activeCannons.add(instance);
  try {
    const result = await instance;
    const total = result.requests.total;
    return {
      tool: 'autocannon',
      toolCpuTicks: 0,
      requests: total,
      durationS: result.duration,
      requestsPerSec: result.duration > 0 ? total / result.duration : result.requests.average,
      latencyMs: {
        avg: result.latency.average,
        p50: result.latency.p50,
        p75: result.latency.p75,
        p90: result.latency.p90,
        p99: result.latency.p99,
        max: result.latency.max,
      },
      non2xx: result.non2xx,
      // autocannon does not split its connection errors; count them as read errors.
      socketErrors: { connect: 0, read: result.errors - result.timeouts, write: 0, timeout: result.timeouts },
      raw: JSON.stringify({ statusCodeStats: result.statusCodeStats ?? null, requests: result.requests, latency: result.latency }),
    };
  } finally {
    activeCannons.delete(instance);
  }
}
