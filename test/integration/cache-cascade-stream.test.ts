// What subscribers see of the cache's own changes, on a real server (2 shards):
// a WebSocket and an SSE client both see a dependency cascade — the parent's
// write, then one "cascade" event for each dependent on either shard, through
// a cycle, each once — and the other reasons: "ttl" when the sweeper expires a
// cached key, "explicit" for POST /api/v1/cache/invalidate, "eviction" when
// the cache makes room; and a "reset" to every subscriber when a shard thread
// dies (its segment is cleared, so no per-key events can cover it).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { expectOk, waitUntil } from '../helpers/http-client.js';
import { addDependency, invalidate } from '../helpers/cache-control.js';
import { putValue } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { openSse, openWs, wsSubscribe, type SseClient, type StreamMessage, type WsClient } from '../helpers/stream-clients.js';

afterAll(cleanup);

const SHARDS = 2;
const slots = buildSlotMap(SHARDS);
const keysOn = (shard: number, base: string, count: number): string[] => {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (shardOfKey(slots, Buffer.from(`${base}${i}`)) === shard) keys.push(`${base}${i}`);
  return keys;
};

type Seen = { key: string; reason: string };
const asSeen = (m: StreamMessage): Seen => ({ key: String(m.key), reason: String(m.reason) });

describe('subscribers and the cache\'s own changes (2 shards)', () => {
  let server: ServerProcess;
  let ws: WsClient;
  let sse: SseClient;

  beforeAll(async () => {
    server = await startServer({ shards: SHARDS, extraArgs: ['--cache-mb', '8'], env: { MANTIS_FAULT_SHARD_CRASH_KEY: 'crash:now' } });
    ws = await openWs(server.url);
    expect(await wsSubscribe(ws, 'app:')).toMatchObject({ type: 'subscribed', prefix: 'app:' });
    sse = await openSse(server.url, 'app:');
  });

  afterAll(async () => {
    ws.close();
    sse.close();
    await server.stop();
  });

  /** Reads both streams until `done` holds for what each has seen; returns both lists. */
  async function collect(done: (seen: Seen[]) => boolean): Promise<{ ws: Seen[]; sse: Seen[] }> {
    const fromWs: Seen[] = [];
    const fromSse: Seen[] = [];
    await ws.inbox.until((m) => {
      if (m.type === 'invalidation') fromWs.push(asSeen(m));
      return done(fromWs);
    }, 10_000, 'WebSocket events');
    await sse.inbox.until((e) => {
      if (e.event === 'invalidation') fromSse.push(asSeen(e.data));
      return done(fromSse);
    }, 10_000, 'SSE events');
    return { ws: fromWs, sse: fromSse };
  }

  it('both see a dependency cascade across shards through a cycle, each dependent once', async () => {
    const [a, c] = keysOn(0, 'app:cas', 2);
    const [b, d] = keysOn(1, 'app:cas', 2);
    for (const key of [a, b, c, d]) await expectOk(await putValue(server.url, key, '1'));
    await collect((seen) => [a, b, c, d].every((k) => seen.some((s) => s.key === k && s.reason === 'write')));
    for (const [parent, child] of [[a, b], [b, c], [c, a], [c, d]]) await expectOk(await addDependency(server.url, parent, child), 201);

    await expectOk(await putValue(server.url, a, '2'));
    const cascaded = (seen: Seen[]): boolean => [b, c, d].every((k) => seen.some((s) => s.key === k && s.reason === 'cascade'));
    const got = await collect(cascaded);
    for (const seen of [got.ws, got.sse]) {
      expect(seen.filter((s) => s.reason === 'write')).toEqual([{ key: a, reason: 'write' }]);
      const cascade = seen.filter((s) => s.reason === 'cascade').map((s) => s.key).sort();
      expect(cascade, 'each dependent once; the written root is not cascaded to').toEqual([b, c, d].sort());
    }
    // Nothing more arrives for this write (a second cascade round would show here).
    await expectOk(await putValue(server.url, 'app:marker', 'm'));
    const after = await collect((seen) => seen.some((s) => s.key === 'app:marker'));
    expect(after.ws.filter((s) => s.key !== 'app:marker')).toEqual([]);
    expect(after.sse.filter((s) => s.key !== 'app:marker')).toEqual([]);
  });

  it('see "explicit" for an invalidation and "ttl" when the sweeper expires a cached key', { timeout: 30_000 }, async () => {
    await expectOk(await putValue(server.url, 'app:x', 'x'));
    await invalidate(server.url, { key: 'app:x' });
    const explicit = await collect((seen) => seen.some((s) => s.key === 'app:x' && s.reason === 'explicit'));
    expect(explicit.ws).toEqual([{ key: 'app:x', reason: 'write' }, { key: 'app:x', reason: 'explicit' }]);
    expect(explicit.sse).toEqual(explicit.ws);

    await expectOk(await putValue(server.url, 'app:ttl', 't', undefined, '?ttl=1'));
    const expired = await collect((seen) => seen.some((s) => s.key === 'app:ttl' && s.reason === 'ttl'));
    expect(expired.ws).toEqual([{ key: 'app:ttl', reason: 'write' }, { key: 'app:ttl', reason: 'ttl' }]);
    expect(expired.sse).toEqual(expired.ws);
  });

  it('see "eviction" when the cache makes room', { timeout: 30_000 }, async () => {
    const filler = await openWs(server.url);
    await wsSubscribe(filler, 'fill:');
    const value = Buffer.alloc(64 * 1024, 7);
    // 8 MiB over 2 shards: 300 × 64 KiB is more than twice what the cache holds. Each key is written
    // three times: W-TinyLFU turns away a newcomer seen once (no eviction then), not one seen as often as its victim.
    for (let i = 0; i < 300; i++) for (let n = 0; n < 3; n++) await expectOk(await putValue(server.url, `fill:${i}`, value));
    const events = await filler.inbox.until((m) => m.type === 'invalidation' && m.reason === 'eviction', 10_000, 'an eviction event');
    expect(events.some((m) => m.reason === 'eviction' && String(m.key).startsWith('fill:'))).toBe(true);
    filler.close();
  });

  it('both get a reset, whatever their prefix, when a shard thread dies', { timeout: 30_000 }, async () => {
    const shard = shardOfKey(slots, Buffer.from('crash:now'));
    const crashed = await fetch(`${server.url}/api/v1/kv/crash:now`, { method: 'PUT', body: 'x' });
    expect(crashed.status).toBeGreaterThanOrEqual(500);
    await crashed.arrayBuffer();
    const fromWs = await ws.inbox.until((m) => m.type === 'reset', 10_000, 'a reset on the WebSocket');
    expect(fromWs[fromWs.length - 1]).toMatchObject({ type: 'reset', reason: 'shard_restart', shard });
    const fromSse = await sse.inbox.until((e) => e.event === 'reset', 10_000, 'a reset on SSE');
    expect(fromSse[fromSse.length - 1].data).toMatchObject({ type: 'reset', reason: 'shard_restart', shard });
    // The restarted shard serves again.
    await waitUntil(async () => ((await fetch(`${server.url}/health/ready`)).status === 200 ? true : undefined), { timeoutMs: 10_000, what: 'the shard back' });
  });
});
