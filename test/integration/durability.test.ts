// What survives a process death. An acknowledged write under --fsync always
// survives kill -9 (with writes still in flight); a graceful SIGTERM flushes
// under every fsync policy; the data-dir lock is exclusive but released by
// the kernel on kill -9; the shard count a data dir was created with is kept.

import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { expectOk, mapLimit, rawRequest } from '../helpers/http-client.js';
import { expectValue, kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, makeDataDir, startExpectingFailure, startServer, type ServerProcess } from '../helpers/server-process.js';

const WRITES = 2000;
const KILL_AFTER_ACKS = 1000;
const SOCKETS = 64;
const REQUEST_TIMEOUT_MS = 30_000;
const VERIFY_CONCURRENCY = 32;

afterAll(cleanup);

type Written = { readonly values: Map<string, Buffer>; readonly acked: Set<string> };

function randomValues(count: number, tag: string): Map<string, Buffer> {
  const values = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) values.set(`${tag}/${i}`, randomBytes(1 + Math.floor(Math.random() * 2000)));
  return values;
}

/**
 * PUTs every value at once through a pool of SOCKETS connections and records
 * which were acknowledged (a complete 200 response). onAck runs after each ack.
 */
async function putConcurrently(url: string, values: Map<string, Buffer>, onAck: (acked: number) => void = () => undefined): Promise<Written> {
  const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });
  const acked = new Set<string>();
  try {
    await Promise.all(
      [...values].map(async ([key, value]) => {
        try {
          const response = await rawRequest({
            url: kvUrl(url, key),
            method: 'PUT',
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(value.length) },
            chunks: [value],
            agent,
            timeoutMs: REQUEST_TIMEOUT_MS,
          });
          if (response.status !== 200) return;
          acked.add(key);
          onAck(acked.size);
        } catch {
          // Connection reset or refused by the killed server: not acknowledged.
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return { values, acked };
}

/** Every acknowledged key has exactly its value; any other key is absent or exactly its value (never torn). */
async function verifyAfterRestart(url: string, written: Written): Promise<void> {
  const problems: string[] = [];
  await mapLimit([...written.values], VERIFY_CONCURRENCY, async ([key, value]) => {
    const response = await fetch(kvUrl(url, key));
    const body = Buffer.from(await response.arrayBuffer());
    const acked = written.acked.has(key);
    if (response.status === 200 && body.equals(value)) return;
    if (response.status === 404 && !acked) return;
    problems.push(`${key} (${acked ? 'acknowledged' : 'not acknowledged'}): ${response.status}, ${body.length} bytes, expected ${value.length}`);
  });
  expect(problems.slice(0, 20), `${problems.length} keys wrong after restart`).toEqual([]);
}

describe('kill -9 with --fsync always', () => {
  it('keeps every acknowledged write when killed while writes are in flight', async () => {
    const server = await startServer({ fsync: 'always', shards: 4 });
    let killed: Promise<void> | null = null;
    const written = await putConcurrently(server.url, randomValues(WRITES, 'inflight'), (acked) => {
      if (acked === KILL_AFTER_ACKS) killed = server.kill9();
    });
    expect(killed, 'the server was never killed: fewer acks than expected').not.toBeNull();
    await killed;
    expect(written.acked.size).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

    const restarted = await startServer({ dataDir: server.dataDir, fsync: 'always' });
    await verifyAfterRestart(restarted.url, written);
    expect(await restarted.stop()).toBe(0);
  });

  it('keeps all writes when every one was acknowledged before the kill', async () => {
    const server = await startServer({ fsync: 'always', shards: 4 });
    const written = await putConcurrently(server.url, randomValues(WRITES, 'settled'));
    expect(written.acked.size).toBe(WRITES);
    await server.kill9();

    const restarted = await startServer({ dataDir: server.dataDir, fsync: 'always' });
    await verifyAfterRestart(restarted.url, written);
    const listed = await expectOk<string[]>(await fetch(`${restarted.url}/api/v1/kv?prefix=settled%2F&limit=1`));
    expect(listed.meta.total).toBe(WRITES);
    expect(await restarted.stop()).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it.each(['always', 'batch', 'none'] as const)('SIGTERM exits 0 and keeps every write (--fsync %s)', async (fsync) => {
    const server = await startServer({ fsync, shards: 2 });
    const written = await putConcurrently(server.url, randomValues(300, `term-${fsync}`));
    expect(written.acked.size).toBe(300);
    expect(await server.stop('SIGTERM')).toBe(0);

    const restarted = await startServer({ dataDir: server.dataDir, fsync });
    await verifyAfterRestart(restarted.url, written);
    expect(await restarted.stop('SIGINT')).toBe(0);
  });
});

describe('data directory lock', () => {
  let first: ServerProcess | null = null;
  afterEach(async () => {
    await first?.kill9();
    first = null;
  });

  it('refuses a second server on the same data dir (exit 1, "in use"); after kill -9 a new one starts', async () => {
    first = await startServer({ shards: 2 });
    await expectOk(await putValue(first.url, 'lock/key', Buffer.from('kept')));

    const second = await startExpectingFailure({ dataDir: first.dataDir, shards: 2 });
    expect({ code: second.code, signal: second.signal }).toEqual({ code: 1, signal: null });
    expect(second.stderr).toContain('in use');
    await expectOk(await fetch(`${first.url}/health/live`));

    await first.kill9();
    const third = await startServer({ dataDir: first.dataDir });
    await expectValue(third.url, 'lock/key', Buffer.from('kept'), 'application/octet-stream');
    expect(await third.stop()).toBe(0);
  });
});

describe('shard count of a data dir', () => {
  it('refuses --shards 4 on a dir created with 2 (exit 1 with a message) and keeps 2 when --shards is not given', async () => {
    const dataDir = makeDataDir();
    const created = await startServer({ dataDir, shards: 2 });
    await expectOk(await putValue(created.url, 'shards/key', Buffer.from('v')));
    expect(await created.stop()).toBe(0);

    const refused = await startExpectingFailure({ dataDir, shards: 4 });
    expect({ code: refused.code, signal: refused.signal }).toEqual({ code: 1, signal: null });
    expect(refused.stderr).toMatch(/shards/);
    expect(refused.stderr).toMatch(/\b2\b/);

    const reopened = await startServer({ dataDir });
    const ready = await expectOk<{ shards: unknown[] }>(await fetch(`${reopened.url}/health/ready`));
    expect(ready.data.shards).toHaveLength(2);
    await expectValue(reopened.url, 'shards/key', Buffer.from('v'), 'application/octet-stream');
    expect(await reopened.stop()).toBe(0);
  });
});
