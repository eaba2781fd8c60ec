// Filling MantisDB before the measurements, and checking that each target
// answers the benchmark's requests correctly before load is put on it.

import { Agent, request as httpRequest } from 'node:http';

export const KEY_COUNT = 100_000;
export const VALUE_BYTES = 100;

export function keyOf(i: number): string {
  return `k${i}`;
}

/** A 100-byte ASCII value that differs per key (so a wrong answer is visible). */
export function valueOf(i: number): string {
  const tag = `v${i}:`;
  return tag + 'x'.repeat(VALUE_BYTES - tag.length);
}

type BatchReply = { success?: unknown; data?: unknown; error?: unknown };

async function postBatch(url: string, ops: readonly object[]): Promise<unknown[]> {
  const response = await fetch(`${url}/api/v1/kv/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ops }),
  });
  const text = await response.text();
  let reply: BatchReply;
  try {
    reply = JSON.parse(text) as BatchReply;
  } catch {
    throw new Error(`batch: HTTP ${response.status}, body is not JSON: ${text.slice(0, 200)}`);
  }
  if (response.status !== 200 || reply.success !== true || !Array.isArray(reply.data)) {
    throw new Error(`batch: HTTP ${response.status}: ${text.slice(0, 300)}`);
  }
  if (reply.data.length !== ops.length) throw new Error(`batch: sent ${ops.length} ops, got ${reply.data.length} results`);
  return reply.data;
}

export type PreloadOutcome = {
  readonly ms: number;
  /** 'batch' as intended; 'put' when the batch route failed and single PUTs were used instead. */
  readonly via: 'batch' | 'put';
  /** Why the batch route was given up, when it was. */
  readonly batchError: string | null;
};

async function preloadByBatch(url: string, batchSize: number, parallel: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < KEY_COUNT) {
      const from = next;
      const to = Math.min(KEY_COUNT, from + batchSize);
      next = to;
      const ops = [];
      for (let i = from; i < to; i++) ops.push({ op: 'put', key: keyOf(i), value: valueOf(i) });
      const results = await postBatch(url, ops);
      results.forEach((result, j) => {
        if (typeof result !== 'object' || result === null || (result as { ok?: unknown }).ok !== true) {
          throw new Error(`preload: put of ${keyOf(from + j)} failed: ${JSON.stringify(result)}`);
        }
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, () => worker()));
}

function putOnce(agent: Agent, url: URL, i: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const body = valueOf(i);
    const req = httpRequest(
      { agent, host: url.hostname, port: url.port, method: 'PUT', path: `/api/v1/kv/${keyOf(i)}`, headers: { 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`preload PUT ${keyOf(i)}: HTTP ${status}: ${text.slice(0, 200)}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One key per PUT (node:http with keep-alive: much quicker than fetch for many small requests). */
async function preloadByPut(url: string, parallel: number): Promise<void> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: parallel });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < KEY_COUNT) await putOnce(agent, target, next++);
  };
  try {
    await Promise.all(Array.from({ length: parallel }, () => worker()));
  } finally {
    agent.destroy();
  }
}

/**
 * Puts KEY_COUNT keys in batches of `batchSize` ops, `parallel` requests in
 * flight. If the batch route fails, the keys are put one by one instead (so
 * the single-key scenarios can still be measured) and the failure is returned.
 */
export async function preload(url: string, batchSize = 1000, parallel = 4): Promise<PreloadOutcome> {
  const started = performance.now();
  try {
    await preloadByBatch(url, batchSize, parallel);
    return { ms: performance.now() - started, via: 'batch', batchError: null };
  } catch (error) {
    const batchError = error instanceof Error ? error.message : String(error);
    const restarted = performance.now();
    await preloadByPut(url, 32);
    return { ms: performance.now() - restarted, via: 'put', batchError };
  }
}

async function expectBody(what: string, response: Response, expected: string | null): Promise<void> {
  const text = await response.text();
  if (response.status < 200 || response.status > 299) throw new Error(`${what}: HTTP ${response.status}: ${text.slice(0, 200)}`);
  if (expected !== null && text !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(text.slice(0, 200))}`);
}

/** One request of each single-key kind the scenarios send, with the answers checked. */
export async function smokeCheckMantis(url: string): Promise<void> {
  const probes = [0, 1, KEY_COUNT - 1, 4242];
  for (const i of probes) await expectBody(`GET ${keyOf(i)}`, await fetch(`${url}/api/v1/kv/${keyOf(i)}`), valueOf(i));
  await expectBody('PUT', await fetch(`${url}/api/v1/kv/${keyOf(7)}`, { method: 'PUT', body: valueOf(7) }), null);
  await expectBody('GET after PUT', await fetch(`${url}/api/v1/kv/${keyOf(7)}`), valueOf(7));
}

/** A batch like the benchmark's (100 ops, 10 puts of 100 bytes), answers checked. Returns what went wrong, or null. */
export async function smokeCheckBatch(url: string): Promise<string | null> {
  const ops: object[] = [];
  for (let j = 0; j < 100; j++) ops.push(j % 10 === 9 ? { op: 'put', key: keyOf(j), value: valueOf(j) } : { op: 'get', key: keyOf(j) });
  try {
    const results = await postBatch(url, ops);
    for (let j = 0; j < 100; j++) {
      const r = results[j] as { ok?: unknown; found?: unknown; value?: unknown };
      const good = j % 10 === 9 ? r.ok === true : r.found === true && r.value === valueOf(j);
      if (!good) return `batch op ${j} answered ${JSON.stringify(r).slice(0, 200)}`;
    }
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function smokeCheckBare(url: string): Promise<void> {
  await expectBody('bare GET', await fetch(`${url}/api/v1/kv/${keyOf(1)}`), 'x'.repeat(VALUE_BYTES));
  await expectBody('bare PUT', await fetch(`${url}/api/v1/kv/${keyOf(1)}`, { method: 'PUT', body: valueOf(1) }), 'x'.repeat(VALUE_BYTES));
}
