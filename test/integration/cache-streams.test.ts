// The invalidation streams on a real server (2 shards): a WebSocket and an SSE
// subscriber see exactly the events under their prefix, in order per key;
// several prefixes on one socket deliver an event once; bad messages get an
// error frame and the socket stays usable; a bad SSE prefix is a 400; a
// subscriber that stops reading is cut (WebSocket 1008, SSE connection
// closed) after a gapless run of events, never thinned, while one that reads
// gets them all; SIGTERM with streams
// open ends them (1001, SSE end) and exits 0.
//
// Events of different shards have no order between them, so a test ends its
// writes with one marker key per shard: once every marker arrived, every
// earlier event of those shards has too.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { expectError, expectOk, waitUntil } from '../helpers/http-client.js';
import { kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { scrape } from '../helpers/storage-fixtures.js';
import {
  openSse,
  openStalledSse,
  openStalledWs,
  openWs,
  parseWsFrames,
  sseUrl,
  wsSubscribe,
  type SseEvent,
  type StreamMessage,
  type WsClient,
} from '../helpers/stream-clients.js';

const SHARDS = 2;
const slotMap = buildSlotMap(SHARDS);
const shardOf = (key: string): number => shardOfKey(slotMap, Buffer.from(key));

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: SHARDS, extraArgs: ['--cache-mb', '8'] });
});

afterAll(cleanup);

/** One key per shard, `${prefix}${n}`, with n counting up from `from`. */
function markersFor(prefix: string, from = 0): string[] {
  const markers: (string | undefined)[] = Array.from({ length: SHARDS }, () => undefined);
  for (let n = from; markers.includes(undefined); n++) {
    const key = `${prefix}${n}`;
    markers[shardOf(key)] ??= key;
  }
  return markers as string[];
}

async function put(key: string): Promise<void> {
  await expectOk(await putValue(server.url, key, 'v', 'text/plain'));
}

async function del(key: string): Promise<void> {
  await expectOk(await fetch(kvUrl(server.url, key), { method: 'DELETE' }));
}

/** Reads invalidations until every marker arrived; returns them all (markers included) as [key, reason]. */
async function readThrough<T>(next: () => Promise<T>, messageOf: (item: T) => StreamMessage, markers: readonly string[]): Promise<[string, string][]> {
  const waiting = new Set(markers);
  const seen: [string, string][] = [];
  while (waiting.size > 0) {
    const message = messageOf(await next());
    expect(message.type).toBe('invalidation');
    expect(typeof message.ts).toBe('number');
    seen.push([String(message.key), String(message.reason)]);
    waiting.delete(String(message.key));
  }
  return seen;
}

const wsEvents = (ws: WsClient, markers: readonly string[]): Promise<[string, string][]> =>
  readThrough(() => ws.inbox.next(), (m) => m, markers);

describe('invalidation streams', () => {
  it('delivers exactly the events under the prefix, in order per key, over WebSocket and SSE', async () => {
    const ws = await openWs(server.url);
    const sse = await openSse(server.url, 'user:');
    try {
      expect(await wsSubscribe(ws, 'user:')).toEqual({ type: 'subscribed', stream: 'invalidations', prefix: 'user:' });
      expect(sse.status).toBe(200);
      expect(sse.headers.get('content-type')).toBe('text/event-stream');
      expect(sse.headers.get('cache-control')).toBe('no-cache');
      expect(sse.inbox.all[0]).toEqual({ id: null, event: 'subscribed', data: { type: 'subscribed', stream: 'invalidations', prefix: 'user:' } });

      await put('user:1');
      await del('user:1');
      await put('other:1');
      await put('users');
      await put('user:2');
      const markers = markersFor('user:end-');
      for (const m of markers) await put(m);

      const expected = [['user:1', 'write'], ['user:1', 'delete'], ['user:2', 'write'], ...markers.map((m) => [m, 'write'])];
      const viaWs = await wsEvents(ws, markers);
      const sseEvents: SseEvent[] = [];
      const viaSse = await readThrough(
        () => sse.inbox.next(),
        (e) => {
          sseEvents.push(e);
          expect(e.event).toBe('invalidation');
          return e.data;
        },
        markers,
      );
      for (const seen of [viaWs, viaSse]) {
        expect([...seen].sort()).toEqual([...expected].sort());
        // Per key, the order the shard applied them.
        expect(seen.filter(([k]) => k === 'user:1')).toEqual([['user:1', 'write'], ['user:1', 'delete']]);
      }
      expect(sseEvents.map((e) => e.id)).toEqual(sseEvents.map((_, i) => String(i + 1)));
      expect(ws.inbox.unread()).toEqual([]);
      expect(sse.inbox.unread()).toEqual([]);

      const metrics = await scrape(server.url);
      expect(metrics.value('mantis_cache_subscribers', { transport: 'ws' })).toBe(1);
      expect(metrics.value('mantis_cache_subscribers', { transport: 'sse' })).toBe(1);
    } finally {
      ws.close();
      sse.close();
    }
    await waitUntil(async () => {
      const metrics = await scrape(server.url);
      return metrics.value('mantis_cache_subscribers') === 0 ? true : undefined;
    }, { timeoutMs: 5_000, what: 'the subscriber gauge to drop to 0 after the clients left' });
  });

  it('holds several prefixes on one socket, delivers an event matching several once, and unsubscribes', async () => {
    const ws = await openWs(server.url);
    try {
      expect(await wsSubscribe(ws, 'cart:')).toMatchObject({ type: 'subscribed', prefix: 'cart:' });
      expect(await wsSubscribe(ws, 'order:')).toMatchObject({ type: 'subscribed', prefix: 'order:' });
      expect(await wsSubscribe(ws, 'cart:4')).toMatchObject({ type: 'subscribed', prefix: 'cart:4' });
      await put('cart:4');
      await put('order:1');
      await put('misc:1');
      let markers = markersFor('order:end-');
      for (const m of markers) await put(m);
      expect((await wsEvents(ws, markers)).sort()).toEqual([['cart:4', 'write'], ['order:1', 'write'], ...markers.map((m) => [m, 'write'])].sort());

      expect(await wsSubscribe(ws, 'cart:', 'unsubscribe')).toEqual({ type: 'unsubscribed', stream: 'invalidations', prefix: 'cart:' });
      await put('cart:5'); // no longer under any prefix of the socket
      await del('cart:4'); // still under cart:4
      markers = markersFor('order:end-', 100);
      for (const m of markers) await put(m);
      expect((await wsEvents(ws, markers)).sort()).toEqual([['cart:4', 'delete'], ...markers.map((m) => [m, 'write'])].sort());

      // The empty prefix is everything.
      expect(await wsSubscribe(ws)).toEqual({ type: 'subscribed', stream: 'invalidations', prefix: '' });
      await put('anything');
      markers = markersFor('order:end-', 200);
      for (const m of markers) await put(m);
      expect((await wsEvents(ws, markers)).sort()).toEqual([['anything', 'write'], ...markers.map((m) => [m, 'write'])].sort());
      expect(ws.inbox.unread()).toEqual([]);
    } finally {
      ws.close();
    }
  });

  it('answers bad messages with an error frame and keeps the socket usable', async () => {
    const ws = await openWs(server.url);
    try {
      const bad: [string | Uint8Array, string][] = [
        ['not json', 'INVALID_JSON'],
        ['{"subscribe":', 'INVALID_JSON'],
        ['[1,2]', 'INVALID_PARAMETER'],
        ['"invalidations"', 'INVALID_PARAMETER'],
        ['{}', 'INVALID_PARAMETER'],
        ['{"subscribe":"no-such-stream"}', 'INVALID_PARAMETER'],
        ['{"subscribe":"invalidations","unsubscribe":"invalidations"}', 'INVALID_PARAMETER'],
        ['{"subscribe":"invalidations","prefix":7}', 'INVALID_PARAMETER'],
        ['{"subscribe":"invalidations","prefix":null}', 'INVALID_PARAMETER'],
        ['{"subscribe":"invalidations","prefix":"\\ud800"}', 'INVALID_PARAMETER'],
        ['{"subscribe":"invalidations","tag":"x"}', 'INVALID_PARAMETER'],
        [JSON.stringify({ subscribe: 'invalidations', prefix: 'é'.repeat(513) }), 'INVALID_PARAMETER'],
        [JSON.stringify({ subscribe: 'invalidations', prefix: 'x'.repeat(1000), pad: 'y'.repeat(4000) }), 'INVALID_PARAMETER'],
        [new Uint8Array([0x7b, 0x7d]), 'INVALID_PARAMETER'],
      ];
      for (const [message, code] of bad) {
        ws.send(message);
        const answer = await ws.inbox.next();
        expect(answer, String(message).slice(0, 80)).toEqual({ type: 'error', code, message: expect.any(String) });
      }
      // A prefix of exactly 1024 UTF-8 bytes is fine.
      const longest = 'é'.repeat(512);
      expect(await wsSubscribe(ws, longest)).toEqual({ type: 'subscribed', stream: 'invalidations', prefix: longest });
      expect(await wsSubscribe(ws, 'bad-msg:')).toMatchObject({ type: 'subscribed', prefix: 'bad-msg:' });
      await put('bad-msg:1');
      expect(await ws.inbox.next()).toMatchObject({ type: 'invalidation', key: 'bad-msg:1', reason: 'write' });
    } finally {
      ws.close();
    }
  });

  it('refuses a bad SSE prefix with 400 INVALID_PARAMETER', async () => {
    for (const query of ['prefix=%ZZ', 'prefix=%', 'prefix=%C3', 'prefix=%FF', 'prefix=%ED%A0%80', `prefix=${'a'.repeat(1025)}`, `prefix=${'%C3%A9'.repeat(513)}`]) {
      const response = await fetch(`${server.url}/api/v1/cache/invalidations/stream?${query}`);
      await expectError(response, 400, 'INVALID_PARAMETER');
    }
    // The longest prefix is accepted, and the stream answers.
    const sse = await openSse(server.url, 'é'.repeat(512));
    expect(sse.status).toBe(200);
    sse.close();
    expect(sseUrl(server.url, 'a b')).toContain('a%20b');
  });

  it('cuts a subscriber that stops reading after a gapless run of events, never thinning it', async () => {
    const prefix = `slow:${'k'.repeat(900)}:`;
    const stalledWs = await openStalledWs(server.port, prefix);
    const stalledSse = await openStalledSse(server.port, prefix);
    const live = await openWs(server.url);
    await wsSubscribe(live, prefix);
    // Each event carries a ~1 KB key, so a batch of 1000 puts is ~1 MiB of events per subscriber. Up to
    // ~10 MiB fit in the kernel's socket buffers on loopback before the server's backlog grows at all.
    const order: string[][] = Array.from({ length: SHARDS }, () => []);
    let n = 0;
    const cutOff = async (): Promise<boolean> => {
      const metrics = await scrape(server.url);
      return metrics.value('mantis_cache_stream_cutoffs_total', { transport: 'ws' }) >= 1 && metrics.value('mantis_cache_stream_cutoffs_total', { transport: 'sse' }) >= 1;
    };
    for (let batch = 0; batch < 48 && !(batch >= 6 && (await cutOff())); batch++) {
      const ops = Array.from({ length: 1000 }, () => {
        const key = `${prefix}${String(n++).padStart(6, '0')}`;
        order[shardOf(key)].push(key);
        return { op: 'put', key, value: 'v' };
      });
      await expectOk(await fetch(`${server.url}/api/v1/kv/batch`, { method: 'POST', body: JSON.stringify({ ops }), headers: { 'content-type': 'application/json' } }));
    }
    await waitUntil(async () => ((await cutOff()) ? true : undefined), { timeoutMs: 10_000, what: 'both stalled subscribers to be cut off' });

    /** What one subscriber got must be, per shard, a prefix of what that shard applied: nothing skipped. */
    const expectGapless = (keys: readonly string[]): void => {
      const perShard: string[][] = Array.from({ length: SHARDS }, () => []);
      for (const k of keys) perShard[shardOf(k)].push(k);
      perShard.forEach((got, shard) => expect(got, `shard ${shard}`).toEqual(order[shard].slice(0, got.length)));
    };

    const wsBytes = await stalledWs.drain();
    const frames = parseWsFrames(wsBytes);
    const close = frames.at(-1);
    expect(close?.opcode, 'the last frame is a close frame').toBe(8);
    expect(close?.payload.readUInt16BE(0)).toBe(1008);
    expect(close?.payload.subarray(2).toString()).toBe('subscriber too slow; resubscribe and resync');
    const wsKeys = frames
      .slice(0, -1)
      .map((f) => JSON.parse(f.payload.toString()) as StreamMessage)
      .filter((m) => m.type === 'invalidation' && m.reason === 'write') // the small cache evicts too
      .map((m) => String(m.key));
    expect(wsKeys.length).toBeGreaterThan(0);
    expect(wsKeys.length).toBeLessThan(n);
    expectGapless(wsKeys);

    const sseText = (await stalledSse.drain()).toString('latin1');
    expect(sseText).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    // Cut, not ended: no terminating chunk.
    expect(sseText.endsWith('\r\n0\r\n\r\n')).toBe(false);
    const ids = [...sseText.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    // The last event may be cut in the middle.
    const sseEvents = [...sseText.matchAll(/"key":"([^"]+)","reason":"(\w+)"/g)];
    expect(sseEvents.length).toBeGreaterThanOrEqual(ids.length - 1);
    const sseKeys = sseEvents.filter((m) => m[2] === 'write').map((m) => m[1]);
    expect(sseKeys.length).toBeLessThan(n);
    expectGapless(sseKeys);

    // A subscriber that keeps reading got every event.
    const markers = markersFor(`${prefix}end-`);
    for (const m of markers) await put(m);
    const all = await wsEvents(live, markers);
    expect(all.filter(([, reason]) => reason === 'write').length).toBe(n + markers.length);
    live.close();
    const log = server.output().stdout;
    expect(log).toMatch(/invalidation subscriber cut off: too far behind/);
  }, 120_000);

  it('ends open streams on SIGTERM (WebSocket 1001, SSE end) and exits 0', async () => {
    const ws = await openWs(server.url);
    await wsSubscribe(ws, 'bye:');
    const sse = await openSse(server.url, 'bye:');
    const code = await server.stop();
    expect(code).toBe(0);
    expect(await ws.closed).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await sse.ended).toBe('end');
  });
});
