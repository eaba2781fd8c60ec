// What the server says about a run, from its Prometheus text at the start and
// the end of the measurement: flushes, compactions, write stalls, and its own
// HTTP latency histogram. Server-side latency far below the harness's says
// the time went to queueing or to a machine short of CPU, not to the server's
// work. Two scrapes per run, so the server pays nothing per request.

export type Scrape = ReadonlyMap<string, number>;

export type ServerView = {
  readonly flushes: number;
  readonly compactions: number;
  readonly compactionMiBRead: number;
  readonly writeStalls: number;
  /** Requests the server shed with 503 OVERLOADED (mantis_http_shed_total, every reason). */
  readonly shed: number;
  readonly httpRequests: number;
  /** Upper bounds of the histogram buckets holding the server-side p50 / p99 / p99.9 (ms). */
  readonly httpP50UpperMs: number | null;
  readonly httpP99UpperMs: number | null;
  readonly httpP999UpperMs: number | null;
};

const COUNTERS = ['mantis_lsm_flushes_total', 'mantis_lsm_compactions_total', 'mantis_lsm_compaction_bytes_read_total', 'mantis_write_stalls_total'];
const BUCKET = 'mantis_http_request_duration_seconds_bucket';
const SHED = 'mantis_http_shed_total';

/** Series summed over every label except `le`, keyed `name` or `name|le`. */
export function parsePrometheus(text: string): Scrape {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null) continue;
    const le = /le="([^"]+)"/.exec(match[2] ?? '')?.[1];
    const key = le === undefined ? match[1] : `${match[1]}|${le}`;
    sums.set(key, (sums.get(key) ?? 0) + Number(match[3]));
  }
  return sums;
}

export async function scrape(url: string): Promise<Scrape | null> {
  try {
    const response = await fetch(`${url}/api/metrics/prometheus`, { signal: AbortSignal.timeout(10_000) });
    return response.ok ? parsePrometheus(await response.text()) : null;
  } catch {
    return null;
  }
}

function bucketBound(before: Scrape, after: Scrape, quantile: number): number | null {
  const bounds = [...after.keys()].filter((k) => k.startsWith(`${BUCKET}|`)).map((k) => k.slice(BUCKET.length + 1));
  const finite = bounds.filter((b) => b !== '+Inf').map(Number).sort((a, b) => a - b);
  const delta = (le: string): number => (after.get(`${BUCKET}|${le}`) ?? 0) - (before.get(`${BUCKET}|${le}`) ?? 0);
  const total = delta('+Inf');
  if (total <= 0) return null;
  const bound = finite.find((le) => delta(String(le)) >= quantile * total);
  return bound === undefined ? Number.POSITIVE_INFINITY : bound * 1000;
}

export function serverView(before: Scrape | null, after: Scrape | null): ServerView | null {
  if (before === null || after === null) return null;
  const d = (name: string): number => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  const [flushes, compactions, compactionBytes, writeStalls] = COUNTERS.map(d);
  return {
    flushes,
    compactions,
    compactionMiBRead: Math.round((compactionBytes / 1048576) * 10) / 10,
    writeStalls,
    shed: d(SHED),
    httpRequests: d(`${BUCKET}|+Inf`),
    httpP50UpperMs: bucketBound(before, after, 0.5),
    httpP99UpperMs: bucketBound(before, after, 0.99),
    httpP999UpperMs: bucketBound(before, after, 0.999),
  };
}
