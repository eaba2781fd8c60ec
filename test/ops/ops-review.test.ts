// Reproductions of what a review of the operations features found, kept as
// tests: storage downloads need admin write (they hand out the signing secret),
// a restored server archives its WAL on a timeline of its own, a restore to a
// moment the archive does not reach is refused, a running server's archive
// reaches its latest writes, and alert rules keep their state through empty
// readings and announce every change.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { call, createRole, createUser, loginAdmin, login, ok, startAuthServer } from '../helpers/auth-support.js';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, makeDataDir, startServer } from '../helpers/server-process.js';
import { openWs } from '../helpers/stream-clients.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { decodeClock, WAL_CLOCK } from '../../shared/wire.js';
import { WAL_TXN_COMMIT_ONE } from '../../shared/txn/txn-wal.js';
import { decodeNext } from '../../workers/wal/wal-record.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

afterAll(cleanup);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function put(url: string, key: string, value: string): Promise<void> {
  const res = await fetch(`${url}/api/v1/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

async function get(url: string, key: string): Promise<number> {
  const res = await fetch(`${url}/api/v1/kv/${encodeURIComponent(key)}`);
  await res.arrayBuffer();
  return res.status;
}

async function backup(url: string): Promise<{ id: string; path: string }> {
  const b = await expectOk<{ id: string; path: string }>(
    await fetch(`${url}/api/v1/backups`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"incremental":false}' }),
    201,
  );
  return b.data;
}

function restore(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [MAIN, 'restore', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function sizes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const shard of readdirSync(dir).filter((n) => n.startsWith('shard-'))) {
    for (const f of readdirSync(join(dir, shard)).filter((n) => n.endsWith('.wal'))) out.set(`${shard}/${f}`, statSync(join(dir, shard, f)).size);
  }
  return out;
}

describe('storage downloads', () => {
  it('need admin write: a read-only admin role lists storage but cannot download the signing secret', async () => {
    const server = await startAuthServer({ extraArgs: ['--backup-dir', join(makeDataDir(), 'b')] });
    try {
      const admin = await loginAdmin(server.url);
      await createRole(server.url, admin, 'monitor', [{ resource: 'admin', actions: ['read'] }]);
      await createUser(server.url, admin, 'mon', 'monitor-password-Xy9!long', ['monitor']);
      const mon = await login(server.url, 'mon', 'monitor-password-Xy9!long');
      await ok(call(server.url, 'GET', '/api/storage/list', { token: mon }));
      await ok(call(server.url, 'GET', '/api/v1/metrics/history?minutes=1', { token: mon }));
      for (const path of ['data/auth', 'data/auth/jwt-secret', 'data']) {
        const answer = await call(server.url, 'GET', `/api/storage/download?path=${encodeURIComponent(path)}`, { token: mon });
        expect(answer.status, path).toBe(403);
      }
      const res = await fetch(`${server.url}/api/storage/download?path=data/mantis.json`, { headers: { authorization: `Bearer ${admin}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-tar');
      await res.arrayBuffer();
    } finally {
      await server.stop();
    }
  });
});

describe('point-in-time recovery edges', () => {
  it('a restored server archives on its own timeline: the original history stays whole for other restores', async () => {
    const dir = makeDataDir();
    const archive = join(dir, 'archive');
    const backups = join(dir, 'backups');
    let server = await startServer({ shards: 1, dataDir: join(dir, 'data'), extraArgs: ['--backup-dir', backups, '--wal-archive', archive] });
    const b = await backup(server.url);
    await put(server.url, 'tl:a', 'before');
    await sleep(1100);
    const moment = new Date().toISOString();
    await sleep(1100);
    await put(server.url, 'tl:b', 'after');
    expect(await server.stop()).toBe(0);
    const original = sizes(archive);
    const first = restore(['--from', b.path, '--to', join(dir, 'r1'), '--until', moment, '--archive', archive]);
    expect(first.status, first.out).toBe(0);
    // The fork runs on the same archive and writes.
    server = await startServer({ dataDir: join(dir, 'r1'), extraArgs: ['--wal-archive', archive] });
    expect(await get(server.url, 'tl:a')).toBe(200);
    expect(await get(server.url, 'tl:b')).toBe(404);
    await put(server.url, 'tl:fork', 'x');
    expect(await server.stop()).toBe(0);
    // Every segment of the original is as it was, and a second restore still reaches past the moment.
    for (const [name, size] of original) expect(statSync(join(archive, name)).size, name).toBe(size);
    expect(readdirSync(archive).some((n) => n.startsWith('timeline-'))).toBe(true);
    const second = restore(['--from', b.path, '--to', join(dir, 'r2'), '--until', new Date().toISOString(), '--archive', archive]);
    expect(second.status, second.out).toBe(0);
    server = await startServer({ dataDir: join(dir, 'r2') });
    expect(await get(server.url, 'tl:b')).toBe(200);
    expect(await get(server.url, 'tl:fork')).toBe(404);
    await server.stop();
  });

  it('refuses a moment the archive does not reach, and reaches the latest writes of a running server', async () => {
    const dir = makeDataDir();
    const archive = join(dir, 'archive');
    const server = await startServer({ shards: 2, dataDir: join(dir, 'data'), extraArgs: ['--backup-dir', join(dir, 'backups'), '--wal-archive', archive] });
    try {
      const b = await backup(server.url);
      for (let i = 0; i < 6; i++) await put(server.url, `run:${i}`, 'v');
      await sleep(1500);
      const moment = new Date().toISOString();
      await sleep(1500);
      await put(server.url, 'run:late', 'v');
      // The server still runs: its active segments are linked into the archive, stamped every second.
      const reached = restore(['--from', b.path, '--to', join(dir, 'r1'), '--until', moment, '--archive', archive]);
      expect(reached.status, reached.out).toBe(0);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const refused = restore(['--from', b.path, '--to', join(dir, 'r2'), '--until', future, '--archive', archive]);
      expect(refused.status).not.toBe(0);
      expect(refused.out).toMatch(/does not reach --until/);
      expect(readdirSync(join(dir, 'r2'))).toEqual([]);
      const bad = restore(['--from', b.path, '--to', join(dir, 'r3'), '--until', '2026-02-30T00:00:00Z', '--archive', archive]);
      expect(bad.status).not.toBe(0);
      expect(bad.out).toMatch(/RFC 3339/);
    } finally {
      await server.stop();
    }
    const restored = await startServer({ dataDir: join(dir, 'r1') });
    for (let i = 0; i < 6; i++) expect(await get(restored.url, `run:${i}`)).toBe(200);
    expect(await get(restored.url, 'run:late')).toBe(404);
    await restored.stop();
  });
});

/** The clock before the last COMMIT_ONE record of a shard's archived log. */
function lastCommitClock(dir: string): number | null {
  let clock: number | null = null;
  let found: number | null = null;
  for (const name of readdirSync(dir).filter((n) => /^\d{16}\.wal$/.test(n)).sort()) {
    const buf = readFileSync(join(dir, name));
    let offset = 0;
    for (;;) {
      const r = decodeNext(buf, offset);
      if (r.kind !== 'record') break;
      if (r.type === WAL_CLOCK) clock = decodeClock(r.payload);
      if (r.type === WAL_TXN_COMMIT_ONE) found = clock;
      offset = r.next;
    }
  }
  return found;
}

describe('point-in-time recovery of a cross-shard transaction', () => {
  it('a moment between the two participants\' commit records restores the transaction whole', async () => {
    const dir = makeDataDir();
    const archive = join(dir, 'archive');
    const server = await startServer({ shards: 2, dataDir: join(dir, 'data'), extraArgs: ['--backup-dir', join(dir, 'backups'), '--wal-archive', archive] });
    const slots = buildSlotMap(2);
    const keyOn = (shard: number, stem: string): string => {
      for (let i = 0; ; i++) if (shardOfKey(slots, Buffer.from(`${stem}${i}`)) === shard) return `${stem}${i}`;
    };
    const x = keyOn(0, 'x');
    const y = keyOn(1, 'y');
    let between: number | null = null;
    let b: { id: string; path: string };
    try {
      b = await backup(server.url);
      for (let i = 0; i < 40 && between === null; i++) {
        const res = await fetch(`${server.url}/api/v1/txn/execute`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ operations: [{ op: 'put', key: x, value: `A${i}` }, { op: 'put', key: y, value: `C${i}` }] }),
        });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        await sleep(30);
        const a = lastCommitClock(join(archive, 'shard-0'));
        const c = lastCommitClock(join(archive, 'shard-1'));
        if (a !== null && c !== null && a !== c) between = Math.min(a, c);
      }
      await sleep(2500); // every shard's log stamped past the moment
    } finally {
      await server.stop();
    }
    expect(between, 'no transaction whose participants logged their commits in different milliseconds').not.toBeNull();
    const r = restore(['--from', b.path, '--to', join(dir, 'r'), '--until', new Date(between as number).toISOString(), '--archive', archive]);
    expect(r.status, r.out).toBe(0);
    const restored = await startServer({ dataDir: join(dir, 'r') });
    try {
      const vx = await (await fetch(`${restored.url}/api/v1/kv/${x}`)).text();
      const vy = await (await fetch(`${restored.url}/api/v1/kv/${y}`)).text();
      expect(vx.slice(1), `${x}=${vx} ${y}=${vy}`).toBe(vy.slice(1));
    } finally {
      await restored.stop();
    }
  });
});

const tmpfs = mountTmpfs(64);
afterAll(() => tmpfs.unmount());

describe.skipIf(tmpfs.refused !== null)('a WAL archive on another file system (copies, not links)', () => {
  it('backups and a clean shutdown archive the active segment; a later run not yet archived makes a restore refuse, not miss writes', async () => {
    const dir = makeDataDir();
    const archive = join(tmpfs.dir, 'archive');
    const args = ['--backup-dir', join(dir, 'backups'), '--wal-archive', archive];
    let server = await startServer({ shards: 1, dataDir: join(dir, 'data'), extraArgs: args });
    const b1 = await backup(server.url);
    await put(server.url, 'xfs:1', 'v');
    await sleep(1300);
    const m1 = new Date().toISOString();
    await sleep(1300);
    await put(server.url, 'xfs:2', 'v');
    await backup(server.url); // archives the active segment up to here (past m1)
    await sleep(300);
    const early = restore(['--from', b1.path, '--to', join(dir, 'r1'), '--until', m1, '--archive', archive]);
    expect(early.status, early.out).toBe(0);
    await put(server.url, 'xfs:3', 'v');
    await sleep(1300);
    const m2 = new Date().toISOString();
    await sleep(1300);
    expect(await server.stop()).toBe(0);
    expect(readdirSync(join(archive, 'shard-0')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const full = restore(['--from', b1.path, '--to', join(dir, 'r2'), '--until', m2, '--archive', archive]);
    expect(full.status, full.out).toBe(0);
    // A new run writes; its segment is not archived yet (another file system): the restore must refuse.
    server = await startServer({ dataDir: join(dir, 'data'), extraArgs: args });
    await put(server.url, 'xfs:4', 'v');
    await sleep(1300);
    const refused = restore(['--from', b1.path, '--to', join(dir, 'r3'), '--until', new Date().toISOString(), '--archive', archive]);
    expect(refused.status, refused.out).not.toBe(0);
    expect(refused.out).toMatch(/does not reach/);
    await server.stop();
    for (const [to, present, absent] of [
      ['r1', ['xfs:1'], ['xfs:2', 'xfs:3']],
      ['r2', ['xfs:1', 'xfs:2', 'xfs:3'], ['xfs:4']],
    ] as const) {
      const restored = await startServer({ dataDir: join(dir, to) });
      for (const k of present) expect(await get(restored.url, k), `${to} ${k}`).toBe(200);
      for (const k of absent) expect(await get(restored.url, k), `${to} ${k}`).toBe(404);
      await restored.stop();
    }
  });
});

describe('alert states', () => {
  it('announces pending → inactive and a changed rule, keeps state through empty readings, and counts auth routes as auth', async () => {
    const server = await startServer({ extraArgs: ['--cache-mb', '8'] });
    const ws = await openWs(server.url);
    try {
      ws.send(JSON.stringify({ subscribe: 'metrics', interval_ms: 60_000 }));
      await ws.inbox.until((m) => m.type === 'subscribed', 5000);
      const rules = (list: unknown[]): Promise<Response> =>
        fetch(`${server.url}/api/v1/alerts/rules`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules: list }) });
      const txnRule = { name: 'txn', metric: 'open_transactions', op: '>', value: 0, for_s: 30, severity: 'warning' };
      const missRule = { name: 'misses', metric: 'cache_hit_rate', op: '<', value: 0.5, for_s: 0, severity: 'warning' };
      await expectOk(await rules([txnRule, missRule]));
      // pending, then the condition stops: an "inactive" event.
      const txn = await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"timeout_ms":60000}' }));
      const pending = await ws.inbox.until((m) => m.type === 'alert' && m.name === 'txn', 5000);
      expect(pending.at(-1)).toMatchObject({ state: 'pending' });
      await fetch(`${server.url}/api/v1/txn/${txn.data.id}/rollback`, { method: 'POST' }).then((r) => r.arrayBuffer());
      const inactive = await ws.inbox.until((m) => m.type === 'alert' && m.name === 'txn', 5000);
      expect(inactive.at(-1)).toMatchObject({ state: 'inactive' });
      // A miss fires the cache rule; seconds with no lookups (null readings) leave it firing.
      expect(await get(server.url, 'never-written')).toBe(404);
      const firing = await ws.inbox.until((m) => m.type === 'alert' && m.name === 'misses', 5000);
      expect(firing.at(-1)).toMatchObject({ state: 'firing' });
      await sleep(3000);
      expect(ws.inbox.unread().filter((m) => m.type === 'alert' && m.name === 'misses')).toEqual([]);
      const states = await expectOk<{ name: string; state: string }[]>(await fetch(`${server.url}/api/v1/alerts`));
      expect(states.data.find((s) => s.name === 'misses')?.state).toBe('firing');
      // Changing the firing rule's severity resolves it under the old severity (it starts afresh).
      await expectOk(await rules([txnRule, { ...missRule, severity: 'critical' }]));
      const changed = await ws.inbox.until((m) => m.type === 'alert' && m.name === 'misses', 5000);
      expect(changed.at(-1)).toMatchObject({ state: 'resolved', severity: 'warning' });
      // Auth routes are their own class in the snapshots.
      for (let i = 0; i < 5; i++) await fetch(`${server.url}/api/v1/auth/me`).then((r) => r.arrayBuffer());
      await sleep(2100);
      const history = await expectOk<{ by_class: Record<string, { requests_per_s: number }> }[]>(await fetch(`${server.url}/api/v1/metrics/history?minutes=1`));
      expect(history.data.some((h) => h.by_class.auth.requests_per_s > 0)).toBe(true);
    } finally {
      ws.close();
      await server.stop();
    }
  });
});
