// Live metric streams (SSE and /ws), the one-hour history, and alert rules
// with webhooks, against a real server process.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { scrape } from '../helpers/storage-fixtures.js';
import { Inbox, maskedTextFrame, openWs } from '../helpers/stream-clients.js';

const SHARDS = 2;
let server: ServerProcess;
let hook: Server;
let hookUrl = '';
/** What the webhook receiver got, and how many of the first posts it refuses (500). */
const received = new Inbox<Record<string, unknown>>();
let refuseNext = 0;
let attempts = 0;

type Snapshot = {
  ts: number;
  interval_ms: number;
  requests_per_s: number;
  errors_per_s: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  cache_hit_rate: number | null;
  memory_rss_bytes: number;
  disk_free_bytes: number;
  open_transactions: number;
  connections: number;
  by_class: Record<string, { requests_per_s: number; errors_per_s: number }>;
  shards: { id: number; ops_per_s: number; queue_depth: number; wal_bytes: number; fsync_p99_ms: number | null }[];
};

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

beforeAll(async () => {
  hook = createServer((req, res) => {
    void readBody(req).then((body) => {
      attempts++;
      if (refuseNext > 0) {
        refuseNext--;
        res.writeHead(500).end('not now');
        return;
      }
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const address = hook.address();
  if (address === null || typeof address === 'string') throw new Error('no webhook port');
  hookUrl = `http://127.0.0.1:${address.port}/hook`;
  server = await startServer({ shards: SHARDS, extraArgs: ['--cache-mb', '8', '--alert-webhook', hookUrl], env: { MANTIS_ALERT_RETRY_BASE_MS: '50' } });
});

afterAll(async () => {
  await cleanup();
  await new Promise((resolve) => hook.close(resolve));
});

/** Reads SSE events (name + parsed data) from a fetch body into an inbox. */
async function openMetricSse(query: string): Promise<{ status: number; inbox: Inbox<{ event: string; data: Record<string, unknown> }>; close(): void; body: string }> {
  const abort = new AbortController();
  const res = await fetch(`${server.url}/api/v1/metrics/stream${query}`, { signal: abort.signal });
  const inbox = new Inbox<{ event: string; data: Record<string, unknown> }>();
  if (res.status !== 200) return { status: res.status, inbox, close: () => abort.abort(), body: await res.text() };
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  void (async () => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) inbox.push({ event, data: JSON.parse(data) as Record<string, unknown> });
        }
      }
      inbox.finish('end');
    } catch (error) {
      inbox.finish(String(error));
    }
  })();
  return { status: 200, inbox, close: () => abort.abort(), body: '' };
}

async function put(key: string, value = 'v'): Promise<void> {
  const res = await fetch(`${server.url}/api/v1/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('metric stream', () => {
  it('sends one snapshot per interval over SSE with every field', async () => {
    const sse = await openMetricSse('?interval_ms=200');
    try {
      const first = await sse.inbox.next(5000, 'subscribed');
      expect(first).toEqual({ event: 'subscribed', data: { type: 'subscribed', stream: 'metrics', interval_ms: 200 } });
      const events = [];
      for (let i = 0; i < 6; i++) events.push(await sse.inbox.next(3000, 'a metrics event'));
      for (const e of events) expect(e.event).toBe('metrics');
      const ts = events.map((e) => e.data.ts as number);
      const gaps = ts.slice(1).map((t, i) => t - ts[i]);
      // On time: every gap near 200 ms (a busy 2-core CI machine gets slack, not a different cadence).
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(150);
        expect(gap).toBeLessThan(600);
      }
      const s = events[events.length - 1].data as unknown as Snapshot;
      for (const field of ['ts', 'requests_per_s', 'errors_per_s', 'memory_rss_bytes', 'disk_free_bytes', 'open_transactions', 'connections']) {
        expect(typeof (s as unknown as Record<string, unknown>)[field], field).toBe('number');
      }
      for (const field of ['latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'cache_hit_rate']) expect(field in s, field).toBe(true);
      expect(s.memory_rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
      expect(s.disk_free_bytes).toBeGreaterThan(0);
      expect(s.connections).toBeGreaterThanOrEqual(1); // this stream
      expect(s.shards.map((x) => x.id)).toEqual([0, 1]);
      for (const shard of s.shards) {
        expect(Object.keys(shard).sort()).toEqual(expect.arrayContaining(['fsync_p99_ms', 'id', 'ops_per_s', 'queue_depth', 'wal_bytes']));
      }
    } finally {
      sse.close();
    }
  });

  it('reports a known load: request rate, write class, latency, shard ops, cache hit rate, open transactions', async () => {
    const ws = await openWs(server.url);
    try {
      ws.send(JSON.stringify({ subscribe: 'metrics', interval_ms: 1000 }));
      expect(await ws.inbox.next(5000, 'subscribed')).toEqual({ type: 'subscribed', stream: 'metrics', interval_ms: 1000 });
      const txn = await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"timeout_ms":60000}' }));
      // ~300 writes and ~300 reads (cache hits after the first read of each key) per second for 3 s.
      const stopAt = Date.now() + 3000;
      let n = 0;
      while (Date.now() < stopAt) {
        const batch = [];
        for (let i = 0; i < 30; i++) batch.push(put(`load:${n++ % 50}`));
        await Promise.all(batch);
        const reads = [];
        for (let i = 0; i < 30; i++) reads.push(fetch(`${server.url}/api/v1/kv/load:${i % 50}`).then((r) => r.arrayBuffer()));
        await Promise.all(reads);
        await new Promise((r) => setTimeout(r, 80));
      }
      const snaps: Snapshot[] = [];
      const seen = await ws.inbox.until((m) => m.type === 'metrics' && (m as unknown as Snapshot).by_class.write.requests_per_s > 50, 8000, 'a loaded snapshot');
      snaps.push(...seen.filter((m) => m.type === 'metrics').map((m) => m as unknown as Snapshot));
      const loaded = snaps[snaps.length - 1];
      expect(loaded.requests_per_s).toBeGreaterThanOrEqual(loaded.by_class.write.requests_per_s);
      expect(loaded.by_class.write.requests_per_s).toBeGreaterThan(50);
      expect(loaded.by_class.write.requests_per_s).toBeLessThan(2000);
      expect(loaded.by_class.read.requests_per_s).toBeGreaterThan(50);
      expect(loaded.errors_per_s).toBe(0);
      expect(loaded.latency_p50_ms).not.toBeNull();
      expect(loaded.latency_p50_ms as number).toBeGreaterThan(0);
      expect(loaded.latency_p99_ms as number).toBeGreaterThanOrEqual(loaded.latency_p95_ms as number);
      expect(loaded.latency_p95_ms as number).toBeGreaterThanOrEqual(loaded.latency_p50_ms as number);
      expect(loaded.cache_hit_rate).not.toBeNull();
      expect(loaded.cache_hit_rate as number).toBeGreaterThan(0.5);
      expect(loaded.open_transactions).toBe(1);
      expect(loaded.shards.reduce((sum, s) => sum + s.ops_per_s, 0)).toBeGreaterThan(50);
      await fetch(`${server.url}/api/v1/txn/${txn.data.id}/rollback`, { method: 'POST' }).then((r) => r.arrayBuffer());
      // The one-second history holds the same load.
      const history = await expectOk<Snapshot[]>(await fetch(`${server.url}/api/v1/metrics/history?minutes=1`));
      expect(history.data.length).toBeGreaterThanOrEqual(3);
      const ts = history.data.map((h) => h.ts);
      expect([...ts].sort((a, b) => a - b)).toEqual(ts);
      expect(Date.now() - ts[0]).toBeLessThanOrEqual(61_000);
      expect(Math.max(...history.data.map((h) => h.by_class.write.requests_per_s))).toBeGreaterThan(50);
      for (const h of history.data) expect(h.interval_ms).toBeGreaterThan(800);
    } finally {
      ws.close();
    }
  });

  it('refuses bad intervals and bad history windows', async () => {
    for (const q of ['?interval_ms=99', '?interval_ms=60001', '?interval_ms=abc', '?interval_ms=1.5']) {
      const sse = await openMetricSse(q);
      expect(sse.status, q).toBe(400);
      expect(JSON.parse(sse.body).error.code).toBe('INVALID_PARAMETER');
    }
    const ws = await openWs(server.url);
    try {
      ws.send(JSON.stringify({ subscribe: 'metrics', interval_ms: 50 }));
      expect(await ws.inbox.next(5000)).toMatchObject({ type: 'error', code: 'INVALID_PARAMETER' });
      ws.send(JSON.stringify({ subscribe: 'metrics', interval_ms: 100, extra: 1 }));
      expect(await ws.inbox.next(5000)).toMatchObject({ type: 'error', code: 'INVALID_PARAMETER' });
      // The socket stays usable.
      ws.send(JSON.stringify({ subscribe: 'metrics', interval_ms: 100 }));
      expect(await ws.inbox.next(5000)).toMatchObject({ type: 'subscribed', stream: 'metrics' });
      expect(await ws.inbox.next(5000)).toMatchObject({ type: 'metrics' });
      ws.send(JSON.stringify({ unsubscribe: 'metrics' }));
      await ws.inbox.until((m) => m.type === 'unsubscribed', 5000);
    } finally {
      ws.close();
    }
    for (const q of ['minutes=0', 'minutes=61', 'minutes=x']) {
      const res = await fetch(`${server.url}/api/v1/metrics/history?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_PARAMETER');
    }
  });

  it('cuts a subscriber that stops reading, and its metric subscription ends with it', async () => {
    const prefix = `slowm:${'k'.repeat(900)}:`;
    const key = randomBytes(16).toString('base64');
    const socket = connect(server.port, '127.0.0.1');
    const head: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      let upgraded = false;
      socket.on('data', (chunk: Buffer) => {
        head.push(chunk);
        const all = Buffer.concat(head);
        if (!upgraded && all.includes('\r\n\r\n')) {
          upgraded = true;
          socket.write(maskedTextFrame(JSON.stringify({ subscribe: 'metrics', interval_ms: 100 })));
          socket.write(maskedTextFrame(JSON.stringify({ subscribe: 'invalidations', prefix })));
        }
        if (all.includes('"stream":"invalidations"')) {
          socket.removeAllListeners('data');
          socket.pause();
          resolve();
        }
      });
      socket.once('error', reject);
      socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    const subscribers = async (): Promise<number> => (await scrape(server.url)).value('mantis_metric_stream_subscribers', {});
    expect(await subscribers()).toBeGreaterThanOrEqual(1);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    let n = 0;
    let gone = false;
    void closed.then(() => (gone = true));
    for (let batch = 0; batch < 60 && !gone; batch++) {
      const ops = Array.from({ length: 1000 }, () => ({ op: 'put', key: `${prefix}${n++}`, value: 'v' }));
      const res = await fetch(`${server.url}/api/v1/kv/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ops }) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      if (batch >= 6) {
        const m = await scrape(server.url);
        if (m.value('mantis_cache_stream_cutoffs_total', { transport: 'ws' }) >= 1) break;
      }
    }
    socket.resume();
    await closed;
    const deadline = Date.now() + 5000;
    while ((await subscribers()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await subscribers()).toBe(0);
  });
});

describe('alerts', () => {
  const rule = { name: 'txn-open', metric: 'open_transactions', op: '>', value: 0, for_s: 1, severity: 'warning' };

  it('lists the default rules', async () => {
    const rules = await expectOk<{ name: string }[]>(await fetch(`${server.url}/api/v1/alerts/rules`));
    expect(rules.data.map((r) => r.name)).toEqual(['high-error-rate', 'low-cache-hit-rate', 'connection-pool-exhaustion', 'disk-space-low', 'high-latency']);
    const states = await expectOk<{ name: string; state: string }[]>(await fetch(`${server.url}/api/v1/alerts`));
    expect(states.data.map((s) => s.name)).toEqual(rules.data.map((r) => r.name));
    for (const s of states.data) expect(['inactive', 'pending', 'firing']).toContain(s.state);
    // Nothing on an idle test server is near the disk, error or connection thresholds.
    expect(states.data.find((s) => s.name === 'disk-space-low')?.state).toBe('inactive');
    expect(states.data.find((s) => s.name === 'connection-pool-exhaustion')?.state).toBe('inactive');
  });

  it('refuses bad rules with a message naming the problem', async () => {
    const bad: [unknown, RegExp][] = [
      [{ rules: [{ ...rule, metric: 'nope' }] }, /metric must be one of/],
      [{ rules: [{ ...rule, op: '=>' }] }, /op must be one of/],
      [{ rules: [{ ...rule, for_s: -1 }] }, /for_s/],
      [{ rules: [{ ...rule, value: 'x' }] }, /value must be a finite number/],
      [{ rules: [{ ...rule, severity: 'page' }] }, /severity/],
      [{ rules: [{ ...rule, name: '' }] }, /name/],
      [{ rules: [rule, rule] }, /two rules are named/],
      [{ rules: [{ ...rule, what: 1 }] }, /unknown field "what"/],
      [{ rules: {} }, /"rules" must be an array/],
      [[rule], /the body must be/],
    ];
    for (const [body, message] of bad) {
      const res = await fetch(`${server.url}/api/v1/alerts/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      expect(res.status, text).toBe(400);
      const error = (JSON.parse(text) as { error: { code: string; message: string } }).error;
      expect(error.code === 'INVALID_PARAMETER' || error.code === 'INVALID_JSON').toBe(true);
      expect(error.message).toMatch(message);
    }
    const res = await fetch(`${server.url}/api/v1/alerts/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"rules":[' });
    expect(res.status).toBe(400);
    // Nothing changed.
    const rules = await expectOk<unknown[]>(await fetch(`${server.url}/api/v1/alerts/rules`));
    expect(rules.data).toHaveLength(5);
  });

  it('fires after for_s, resolves, streams the changes and reaches the webhook despite refusals', async () => {
    const put = await expectOk<unknown[]>(
      await fetch(`${server.url}/api/v1/alerts/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: [rule] }) }),
    );
    expect(put.data).toEqual([rule]);
    const sse = await openMetricSse('?interval_ms=60000');
    await sse.inbox.next(5000, 'subscribed');
    refuseNext = 2; // the firing post is refused twice, then accepted (retries with backoff)
    const before = attempts;
    const begun = Date.now();
    const txn = await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"timeout_ms":60000}' }));
    const pending = await sse.inbox.until((e) => e.event === 'alert', 5000, 'the pending event');
    expect(pending[pending.length - 1].data).toMatchObject({ type: 'alert', name: 'txn-open', state: 'pending', value: 1, severity: 'warning' });
    const midway = await expectOk<{ name: string; state: string; since: number }[]>(await fetch(`${server.url}/api/v1/alerts`));
    expect(['pending', 'firing']).toContain(midway.data[0].state);
    const firing = await sse.inbox.until((e) => e.event === 'alert', 5000, 'the firing event');
    expect(firing[firing.length - 1].data).toMatchObject({ name: 'txn-open', state: 'firing', value: 1 });
    // Not before for_s (1 s) after the condition first held.
    expect((firing[firing.length - 1].data.ts as number) - begun).toBeGreaterThanOrEqual(1000);
    const states = await expectOk<{ name: string; state: string; value: number; since: number }[]>(await fetch(`${server.url}/api/v1/alerts`));
    expect(states.data[0]).toMatchObject({ name: 'txn-open', state: 'firing', value: 1 });
    expect(typeof states.data[0].since).toBe('number');
    expect((await scrape(server.url)).value('mantis_alert_firing', { name: 'txn-open', severity: 'warning' })).toBe(1);
    const hooked = await received.next(10_000, 'the firing webhook');
    expect(hooked).toEqual({ name: 'txn-open', state: 'firing', value: 1, severity: 'warning', ts: expect.any(Number) });
    expect(attempts - before).toBe(3);
    await fetch(`${server.url}/api/v1/txn/${txn.data.id}/rollback`, { method: 'POST' }).then((r) => r.arrayBuffer());
    const resolved = await sse.inbox.until((e) => e.event === 'alert', 5000, 'the resolved event');
    expect(resolved[resolved.length - 1].data).toMatchObject({ name: 'txn-open', state: 'resolved', value: 0 });
    expect(await received.next(10_000, 'the resolved webhook')).toMatchObject({ name: 'txn-open', state: 'resolved', value: 0 });
    const after = await expectOk<{ state: string }[]>(await fetch(`${server.url}/api/v1/alerts`));
    expect(after.data[0].state).toBe('inactive');
    expect((await scrape(server.url)).value('mantis_alert_firing', { name: 'txn-open', severity: 'warning' })).toBe(0);
    sse.close();
  });

  it('keeps the rules across a restart', async () => {
    const rules = [rule, { name: 'p99', metric: 'latency_p99_ms', op: '>=', value: 250, for_s: 30, severity: 'critical', description: 'slow' }];
    await expectOk(await fetch(`${server.url}/api/v1/alerts/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules }) }));
    expect(await server.stop()).toBe(0);
    server = await startServer({ dataDir: server.dataDir, extraArgs: ['--cache-mb', '8', '--alert-webhook', hookUrl], env: { MANTIS_ALERT_RETRY_BASE_MS: '50' } });
    const after = await expectOk<unknown[]>(await fetch(`${server.url}/api/v1/alerts/rules`));
    expect(after.data).toEqual(rules);
  });

  it('counts a webhook that never accepts as a dead letter after its retries', async () => {
    // A port nothing listens on.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as { port: number }).port;
    await new Promise((resolve) => dead.close(resolve));
    const other = await startServer({ extraArgs: ['--alert-webhook', `http://127.0.0.1:${port}/x`], env: { MANTIS_ALERT_RETRY_BASE_MS: '20' } });
    try {
      await expectOk(
        await fetch(`${other.url}/api/v1/alerts/rules`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rules: [{ name: 'always', metric: 'requests_per_s', op: '>=', value: 0, for_s: 0, severity: 'info' }] }),
        }),
      );
      const deadline = Date.now() + 15_000;
      let dead = 0;
      while (Date.now() < deadline && dead < 1) {
        await new Promise((r) => setTimeout(r, 200));
        dead = (await scrape(other.url)).value('mantis_alert_webhook_dead_letters_total', {});
      }
      expect(dead).toBe(1);
      expect((await scrape(other.url)).value('mantis_alert_webhook_deliveries_total', { outcome: 'retried' })).toBe(5);
    } finally {
      await other.stop();
    }
  });
});


