// Online backups, restore and point-in-time recovery against real server
// processes:
//  - a backup taken under concurrent writes of every model (KV, documents
//    with a secondary index, table rows over REST and SQL, cache policies and
//    dependencies, cross-shard transactions keeping a sum) restores to a state
//    that holds every write acknowledged before the backup was asked for,
//    none sent after its answer, and each write in flight whole or not at all;
//    write-back writes acknowledged before the backup are in it too;
//  - the storage browser lists the backup and streams it as a valid tar (also
//    by the path the backup's creation answered, as docs/operations.md says);
//    paths outside the storage roots are 400 INVALID_PATH;
//  - a damaged backup file fails verify and the restore, naming the file;
//  - bad requests, bad restore command lines and bad backup flags are refused;
//  - point-in-time restores to three moments hold exactly the writes before
//    each (KV, documents, rows, a cross-shard transaction, catalog changes, a
//    table move), also across a kill -9 and restart of the original server;
//  - --backup-keep-last 2 keeps the newest two backups, on disk too;
//  - an incremental backup reuses its base's unchanged files, stands alone
//    once the base is deleted, restores, and never reuses a same-named file of
//    another timeline (a backup dir shared with a restored server);
//  - kill -9 in the middle of a backup leaves no listed half backup, and the
//    restart removes what it left;
//  - a cron schedule with seconds takes backups, keeping the newest 3.
// Retention rules with synthetic dates: backup-retention.test.ts. The WAL
// archive under concurrent backups and flushes: backup-archive-race.test.ts.

import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectOk, waitUntil } from '../helpers/http-client.js';
import { cleanup, makeDataDir, startExpectingFailure, startServer, type ServerProcess } from '../helpers/server-process.js';
import { batchGetAll, postBatch, scrape, valueOf } from '../helpers/storage-fixtures.js';
import {
  answer,
  backupDetail,
  childrenOf,
  docsPost,
  execute,
  findAllDocs,
  flipByte,
  getPolicies,
  keysOnShard,
  kvDeleteOk,
  kvGet,
  kvPut,
  kvPutOk,
  listBackups,
  namesIn,
  parseTar,
  postBackup,
  putPolicies,
  restoreOk,
  runRestore,
  sendJson,
  sha256,
  sleep,
  sql,
  takeBackup,
  verify,
} from './backup-support.js';

afterAll(cleanup);

const SHARDS = 2;

async function stopOk(server: ServerProcess): Promise<void> {
  expect(await server.stop(), `exit code of ${server.dataDir}\n${server.output().stderr.slice(-2000)}`).toBe(0);
}

// ==================================================================================
// One server with backups on (2 shards): the concurrent backup, write-back, the
// storage browser, damaged backups, bad inputs.
// ==================================================================================

describe('backups of a live server (2 shards)', () => {
  let server: ServerProcess;
  let backupDir: string;
  /** The backup taken under load, for the storage browser test. */
  let loaded: { id: string; path: string } | null = null;

  beforeAll(async () => {
    backupDir = makeDataDir();
    // A long write-back delay: only the backup's cut hands write-back writes to the WAL (see below).
    server = await startServer({ shards: SHARDS, extraArgs: ['--backup-dir', backupDir, '--write-back-ms', '20000'] });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('a backup taken under concurrent writes of every model restores to a state with every write acknowledged before it, none sent after it, each in-flight write whole', { timeout: 90_000 }, async () => {
    const url = server.url;
    // ---- setup (all of it acknowledged long before the backup) ----
    const COLL = 'bk_docs';
    const TABLE = 'bk_rows';
    await expectOk(await docsPost(url, COLL, 'insert', { documents: [{ _id: 'u1', v: 0, g: -1 }] }));
    await expectOk(await docsPost(url, COLL, 'indexes', { name: 'by_g', keys: { g: 1 } }));
    await expectOk(
      await sendJson(`${url}/api/v1/tables`, 'POST', {
        name: TABLE,
        columns: [
          { name: 'id', type: 'int64' },
          { name: 'src', type: 'string' },
          { name: 'n', type: 'int64' },
        ],
        primary_key: ['id'],
      }),
      201,
    );
    const kvKeys = [...keysOnShard('bk/kv/', SHARDS, 0, 3), ...keysOnShard('bk/kv/', SHARDS, 1, 3)];
    const [txA] = keysOnShard('bk/txn/', SHARDS, 0, 1);
    const [txB] = keysOnShard('bk/txn/', SHARDS, 1, 1);
    await expectOk(await execute(url, { operations: [{ op: 'put', key: txA, value: '500' }, { op: 'put', key: txB, value: '500' }] }));
    await expectOk(await putPolicies(url, [{ prefix: 'pol0:', policy: 'write-around' }]));
    await expectOk(await sendJson(`${url}/api/v1/cache/dependencies`, 'POST', { parent: 'dep:p', child: 'dep:c0' }), 201);

    // ---- the writers ----
    // phase 0: before POST /backups is sent; 1: the POST in flight; 2: after its answer arrived.
    let phase = 0;
    let stop = false;
    type Op = { readonly ids: readonly string[]; readonly n: number; readonly sent: number; acked: number | null; error: string | null };
    const ops = new Map<string, Op[]>();
    const failures: string[] = [];
    const track = async (stream: string, n: number, ids: readonly string[], send: () => Promise<Response>): Promise<void> => {
      const op: Op = { ids, n, sent: phase, acked: null, error: null };
      let list = ops.get(stream);
      if (list === undefined) ops.set(stream, (list = []));
      list.push(op);
      try {
        const response = await send();
        const answeredIn = phase; // the status line and headers are in: the write is acknowledged (or refused) now
        const text = await response.text();
        if (response.status >= 200 && response.status < 300) op.acked = answeredIn;
        else {
          op.error = `${response.status} ${text.slice(0, 200)}`;
          failures.push(`${stream} #${n}: ${op.error}`);
        }
      } catch (error) {
        op.error = String(error);
        failures.push(`${stream} #${n}: ${op.error}`);
      }
    };
    const loop = async (body: (n: number) => Promise<void>): Promise<void> => {
      for (let n = 1; !stop; n++) await body(n);
    };
    const writers: Promise<void>[] = [];
    for (const key of kvKeys) writers.push(loop((n) => track(`kv:${key}`, n, [key], () => kvPut(url, key, `${key}@${n}`))));
    writers.push(loop((n) => track('doc-insert', n, [`d${n}`], () => docsPost(url, COLL, 'insert', { documents: [{ _id: `d${n}`, g: n % 5, n }] }))));
    writers.push(loop((n) => track('doc-update', n, ['u1'], () => docsPost(url, COLL, 'update', { filter: { _id: 'u1' }, update: { $set: { v: n } } }))));
    writers.push(loop((n) => track('rows-rest', n, [String(n)], () => sendJson(`${url}/api/v1/tables/${TABLE}/rows`, 'POST', { rows: [{ id: n, src: 'rest', n }] }))));
    // One SQL statement, three rows (on different shards as the key hashes fall): atomic as a whole.
    writers.push(
      loop((n) => {
        const ids = [1_000_000 + 3 * n, 1_000_001 + 3 * n, 1_000_002 + 3 * n];
        return track('rows-sql', n, ids.map(String), () =>
          sendJson(`${url}/api/v1/sql`, 'POST', {
            query: `INSERT INTO ${TABLE} (id, src, n) VALUES ($1, 'sql', $4), ($2, 'sql', $4), ($3, 'sql', $4)`,
            params: [...ids, n],
          }),
        );
      }),
    );
    writers.push(loop((n) => track('policy', n, [`pol${n}:`], () => putPolicies(url, [{ prefix: `pol${n}:`, policy: 'write-around' }]))));
    writers.push(loop((n) => track('dependency', n, [`dep:c${n}`], () => sendJson(`${url}/api/v1/cache/dependencies`, 'POST', { parent: 'dep:p', child: `dep:c${n}` }))));
    // Moves one unit from txA to txB per commit (compare-and-set on both): state n is (500-n, 500+n).
    writers.push(
      loop((n) =>
        track('txn', n, [String(n)], () =>
          execute(url, {
            conditions: [
              { key: txA, value: String(500 - (n - 1)) },
              { key: txB, value: String(500 + (n - 1)) },
            ],
            operations: [
              { op: 'put', key: txA, value: String(500 - n) },
              { op: 'put', key: txB, value: String(500 + n) },
            ],
          }),
        ),
      ),
    );

    await sleep(500);
    phase = 1;
    const backupAnswer = await postBackup(url, { incremental: false });
    phase = 2;
    const created = await expectOk<{ id: string; path: string; commit_ts: number; created_at: string; incremental: boolean; base: string | null; files: number; bytes: number; copied_bytes: number }>(backupAnswer, 201);
    await sleep(400);
    stop = true;
    await Promise.all(writers);
    expect(failures, 'every write of the load succeeded').toEqual([]);
    const counts = Object.fromEntries([...ops].map(([stream, list]) => [stream, [0, 1, 2].map((p) => list.filter((o) => o.sent === p).length)]));
    for (const [stream, [before, , after]] of Object.entries(counts)) {
      expect(before, `${stream}: writes before the backup`).toBeGreaterThan(0);
      expect(after, `${stream}: writes after the backup`).toBeGreaterThan(0);
    }

    // ---- the backup as the API describes it ----
    const b = created.data;
    loaded = { id: b.id, path: b.path };
    expect(b).toMatchObject({ incremental: false, base: null });
    expect(b.path.startsWith(backupDir)).toBe(true);
    expect(b.commit_ts).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(b.created_at))).toBe(false);
    expect(b.files).toBeGreaterThan(0);
    expect(b.copied_bytes).toBeLessThanOrEqual(b.bytes);
    expect(existsSync(join(b.path, 'manifest.json'))).toBe(true);
    const detail = await backupDetail(url, b.id);
    expect(detail.id).toBe(b.id);
    expect(detail.file_list.length).toBe(b.files);
    expect(detail.cuts.map((c) => c.shard).sort()).toEqual([0, 1]);
    expect(detail.file_list.reduce((n, f) => n + f.bytes, 0)).toBe(b.bytes);
    expect((await listBackups(url)).map((x) => x.id)).toContain(b.id);
    expect(await verify(url, b.id)).toMatchObject({ ok: true, problems: [] });
    expect(namesIn(join(server.dataDir, 'backup-staging')), 'the staging links are gone after the backup').toEqual([]);
    expect(namesIn(backupDir).filter((n) => n.startsWith('.partial-'))).toEqual([]);

    // ---- restore into an empty directory and start on it ----
    const to = makeDataDir();
    await restoreOk(['--from', b.path, '--to', to]);
    const restored = await startServer({ shards: SHARDS, dataDir: to });
    try {
      const r = restored.url;
      const problems: string[] = [];
      /** A stream of sequential versions of one thing: the restored version must be one written, at least the last acknowledged before, and none sent after. */
      const checkVersion = (stream: string, restoredN: number | null): void => {
        const list = ops.get(stream) ?? [];
        const mustAtLeast = Math.max(0, ...list.filter((o) => o.acked === 0).map((o) => o.n));
        const firstAfter = Math.min(Infinity, ...list.filter((o) => o.sent === 2).map((o) => o.n));
        const got = restoredN ?? 0;
        if (!(got >= mustAtLeast && got < firstAfter) || (got > 0 && !list.some((o) => o.n === got))) {
          problems.push(`${stream}: restored version ${got}; the last acknowledged before the backup was ${mustAtLeast}, the first sent after it ${firstAfter}`);
        }
      };
      /** A stream of inserts: each acknowledged before is there, each sent after is not, each in flight whole or absent. */
      const checkSet = (stream: string, present: ReadonlySet<string>): Set<string> => {
        const known = new Set<string>();
        for (const o of ops.get(stream) ?? []) {
          const here = o.ids.filter((id) => present.has(id));
          o.ids.forEach((id) => known.add(id));
          if (o.acked === 0 && here.length !== o.ids.length) problems.push(`${stream} #${o.n} (${o.ids.join(',')}): acknowledged before the backup, missing ${o.ids.filter((id) => !present.has(id)).join(',')}`);
          if (o.sent === 2 && here.length > 0) problems.push(`${stream} #${o.n} (${o.ids.join(',')}): sent after the backup's answer, present`);
          if (here.length > 0 && here.length !== o.ids.length) problems.push(`${stream} #${o.n}: only ${here.join(',')} of ${o.ids.join(',')} restored (not all-or-nothing)`);
        }
        return known;
      };

      // KV
      for (const key of kvKeys) {
        const value = await kvGet(r, key);
        if (value !== null && !value.startsWith(`${key}@`)) problems.push(`${key}: restored "${value}", not a value written`);
        checkVersion(`kv:${key}`, value === null ? null : Number(value.slice(key.length + 1)));
      }
      // Cross-shard transactions: the sum, and a state that existed.
      const a = Number(await kvGet(r, txA));
      const bb = Number(await kvGet(r, txB));
      if (a + bb !== 1000) problems.push(`transaction sum: ${txA}=${a} + ${txB}=${bb} = ${a + bb}, not 1000`);
      checkVersion('txn', 500 - a);

      // Documents: the inserted ones, u1's version, the secondary index.
      const docs = await findAllDocs(r, COLL);
      const byId = new Map(docs.map((d) => [String(d._id), d]));
      const insertedKnown = checkSet('doc-insert', new Set([...byId.keys()].filter((id) => id !== 'u1')));
      for (const [id, d] of byId) {
        if (id === 'u1') continue;
        if (!insertedKnown.has(id)) problems.push(`document ${id}: never written`);
        const n = Number(id.slice(1));
        if (d.n !== n || d.g !== n % 5) problems.push(`document ${id}: restored ${JSON.stringify(d)}`);
      }
      const u1 = byId.get('u1');
      if (u1 === undefined) problems.push('document u1 is missing');
      else checkVersion('doc-update', u1.v as number);
      const info = (await expectOk<{ indexes: { name: string; keys: Record<string, number>; state?: string }[]; count: number }>(await fetch(`${r}/api/v1/docs/${COLL}`))).data;
      expect(info.indexes.map((i) => i.name).sort()).toEqual(['_id_', 'by_g']);
      expect(info.count).toBe(docs.length);
      for (const g of [0, 3]) {
        const viaIndex = await findAllDocs(r, COLL, { g });
        expect(viaIndex.map((d) => String(d._id)).sort(), `find {g:${g}} (through by_g) agrees with a scan`).toEqual(docs.filter((d) => d.g === g).map((d) => String(d._id)).sort());
      }
      const plan = (await expectOk<{ shards: { plan: string; index?: string | null }[] }>(await docsPost(r, COLL, 'explain', { filter: { g: 3 } }))).data;
      expect(plan.shards.map((s) => `${s.plan}:${s.index ?? ''}`)).toEqual(plan.shards.map(() => 'IXSCAN:by_g'));

      // Table rows (through SQL).
      const rows = (await sql(r, `SELECT id, src, n FROM ${TABLE} ORDER BY id`)).rows as [number, string, number][];
      const count = (await sql(r, `SELECT count(*) FROM ${TABLE}`)).rows[0][0];
      expect(Number(count)).toBe(rows.length);
      const restIds = new Set(rows.filter((x) => x[1] === 'rest').map((x) => String(x[0])));
      const sqlIds = new Set(rows.filter((x) => x[1] === 'sql').map((x) => String(x[0])));
      checkSet('rows-rest', restIds);
      checkSet('rows-sql', sqlIds);
      for (const [id, src, n] of rows) {
        if (src === 'rest' && n !== id) problems.push(`row ${id}: restored n=${n}`);
        if (src === 'sql' && n !== Math.floor((id - 1_000_000) / 3)) problems.push(`row ${id}: restored n=${n}`);
        if (src !== 'rest' && src !== 'sql') problems.push(`row ${id}: restored src=${src}`);
      }

      // Cache policies and dependencies (router state).
      const policies = await getPolicies(r);
      expect(policies.policies.length, JSON.stringify(policies)).toBe(1);
      checkVersion('policy', Number(/^pol(\d+):$/.exec(policies.policies[0].prefix)?.[1] ?? NaN));
      const children = new Set(await childrenOf(r, 'dep:p'));
      if (!children.has('dep:c0')) problems.push('dependency dep:p → dep:c0 (made at setup) is missing');
      children.delete('dep:c0');
      const depKnown = checkSet('dependency', children);
      for (const c of children) if (!depKnown.has(c)) problems.push(`dependency ${c}: never written`);

      // The catalog.
      const colls = (await expectOk<{ name: string; count: number }[]>(await fetch(`${r}/api/v1/docs`))).data;
      expect(colls.map((c) => c.name)).toEqual([COLL]);
      expect(colls[0].count).toBe(docs.length);
      const tables = (await expectOk<{ name: string }[]>(await fetch(`${r}/api/v1/tables`))).data;
      expect(tables.map((t) => t.name)).toEqual([TABLE]);

      expect(problems, `restored state vs the writes (per stream sent before/during/after: ${JSON.stringify(counts)})`).toEqual([]);

      // The restored server goes on: writes work and a new commit's timestamp is above the backup's.
      const commit = await expectOk<{ commit_ts: number }>(await execute(r, { operations: [{ op: 'put', key: txA, value: String(a - 1) }, { op: 'put', key: txB, value: String(bb + 1) }] }));
      expect(commit.data.commit_ts).toBeGreaterThan(b.commit_ts);
      // Without --backup-dir the backup routes are off.
      await expectError(await postBackup(r), 409, 'BACKUPS_DISABLED');
      await expectError(await fetch(`${r}/api/v1/backups`), 409, 'BACKUPS_DISABLED');
    } finally {
      await stopOk(restored);
    }
  });

  it('write-back writes acknowledged before a backup (not in the WAL yet) are in it', async () => {
    const url = server.url;
    await expectOk(await putPolicies(url, [{ prefix: 'wb:', policy: 'write-back' }]));
    const keys = [...keysOnShard('wb:k', SHARDS, 0, 10), ...keysOnShard('wb:k', SHARDS, 1, 10)];
    for (const key of keys) await kvPutOk(url, key, `first-${key}`);
    await Promise.all(keys.map((key) => kvPutOk(url, key, `value-${key}`)));
    await kvDeleteOk(url, keys[0]);
    const pending = (await scrape(url)).value('mantis_cache_write_back_pending');
    expect(pending, 'write-back writes not yet in the WAL when the backup is asked for').toBeGreaterThan(0);
    const b = await takeBackup(url);
    const to = makeDataDir();
    await restoreOk(['--from', b.path, '--to', to]);
    const restored = await startServer({ shards: SHARDS, dataDir: to });
    try {
      const got = await Promise.all(keys.map(async (key) => [key, await kvGet(restored.url, key)] as const));
      expect(Object.fromEntries(got), `write-back writes pending at the backup (gauge: ${pending})`).toEqual(Object.fromEntries(keys.map((key, i) => [key, i === 0 ? null : `value-${key}`])));
    } finally {
      await stopOk(restored);
    }
  });

  it('the storage browser lists the backup and streams it as a tar with every file; paths outside the roots are 400 INVALID_PATH', async () => {
    const url = server.url;
    const b = loaded ?? { ...(await takeBackup(url)) };
    const listing = (await expectOk<{ roots: { name: string; path: string }[]; backups: { id: string; storage_path: string }[]; wal_archive: unknown[]; data_files: { path: string; bytes: number; kind: string }[] }>(await fetch(`${url}/api/storage/list`))).data;
    expect(listing.roots.map((r) => r.name).sort()).toEqual(['backups', 'data']);
    expect(listing.backups.find((x) => x.id === b.id)?.storage_path).toBe(`backups/${b.id}`);
    expect(listing.wal_archive).toEqual([]);
    expect(listing.data_files.some((f) => f.path === 'data/mantis.json')).toBe(true);
    expect(listing.data_files.some((f) => f.kind === 'wal' && f.path.startsWith('data/shards/1/wal/'))).toBe(true);

    const response = await fetch(`${url}/api/storage/download?path=${encodeURIComponent(`backups/${b.id}`)}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-tar');
    const tar = Buffer.from(await response.arrayBuffer());
    const entries = await parseTar(tar);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const manifestEntry = byName.get(`${b.id}/manifest.json`);
    expect(manifestEntry, `entries: ${[...byName.keys()].slice(0, 20).join(', ')}`).toBeDefined();
    const manifest = JSON.parse((manifestEntry as { body: Buffer }).body.toString('utf8')) as { id: string; files: { path: string; bytes: number; sha256: string }[] };
    expect(manifest.id).toBe(b.id);
    for (const f of manifest.files) {
      const e = byName.get(`${b.id}/data/${f.path}`);
      expect(e, `${f.path} in the tar`).toBeDefined();
      expect({ path: f.path, bytes: e?.size, sha256: sha256(e?.body ?? Buffer.alloc(0)) }).toEqual({ path: f.path, bytes: f.bytes, sha256: f.sha256 });
    }
    expect(entries.length, 'the manifest and the data files, nothing else').toBe(manifest.files.length + 1);

    // One file of it.
    const one = await fetch(`${url}/api/storage/download?path=${encodeURIComponent(`backups/${b.id}/manifest.json`)}`);
    expect(one.status).toBe(200);
    const single = await parseTar(Buffer.from(await one.arrayBuffer()));
    expect(single.map((e) => e.name)).toEqual([`${b.id}/manifest.json`]);
    expect(JSON.parse(single[0].body.toString('utf8')).id).toBe(b.id);

    // Outside the roots.
    const link = join(backupDir, 'escape');
    symlinkSync('/etc', link);
    try {
      for (const bad of ['../etc', '/etc/passwd', 'data/../../x', `backups/${b.id}/../../..`, 'backups/escape/passwd', 'backups/escape', 'nowhere/x', '%2e%2e/etc', '']) {
        const raw = bad === '%2e%2e/etc' ? bad : encodeURIComponent(bad);
        await expectError(await fetch(`${url}/api/storage/download?path=${raw}`), 400, 'INVALID_PATH');
      }
      await expectError(await fetch(`${url}/api/storage/download`), 400, 'INVALID_PATH');
    } finally {
      rmSync(link, { force: true });
    }
  });

  it('downloads a backup by the path its creation answered (the command docs/operations.md gives)', async () => {
    // docs/operations.md: BACKUP_PATH=<data.path>; curl --get --data-urlencode "path=$BACKUP_PATH" …/api/storage/download
    const b = loaded ?? { ...(await takeBackup(server.url)) };
    const response = await fetch(`${server.url}/api/storage/download?${new URLSearchParams({ path: b.path })}`);
    const body = Buffer.from(await response.arrayBuffer());
    expect({ status: response.status, type: response.headers.get('content-type') }, body.toString('utf8', 0, 300)).toEqual({ status: 200, type: 'application/x-tar' });
    const entries = await parseTar(body);
    expect(entries.some((e) => e.name.endsWith('manifest.json'))).toBe(true);
  });

  it('a flipped byte or a missing file fails verify and the restore, naming the file', { timeout: 60_000 }, async () => {
    const url = server.url;
    await kvPutOk(url, 'damage/1', 'x'.repeat(5000));
    const b = await takeBackup(url);
    const detail = await backupDetail(url, b.id);
    const wal = detail.file_list.filter((f) => /^shards\/\d+\/wal\/\d+\.wal$/.test(f.path) && f.bytes > 100).sort((x, y) => y.bytes - x.bytes)[0];
    expect(wal, JSON.stringify(detail.file_list.map((f) => [f.path, f.bytes]))).toBeDefined();
    const cases: { rel: string; damage: () => () => void }[] = [
      {
        rel: wal.path,
        damage: () => {
          const path = join(b.path, 'data', wal.path);
          const at = Math.floor(wal.bytes / 2);
          const was = flipByte(path, at);
          return () => {
            const buf = readFileSync(path);
            buf[at] = was;
            writeFileSync(path, buf);
          };
        },
      },
      {
        rel: 'mantis.json',
        damage: () => {
          const path = join(b.path, 'data', 'mantis.json');
          const before = readFileSync(path);
          flipByte(path, 1);
          return () => writeFileSync(path, before);
        },
      },
      {
        rel: 'txn/decisions.json',
        damage: () => {
          const path = join(b.path, 'data', 'txn', 'decisions.json');
          const before = readFileSync(path);
          rmSync(path);
          return () => writeFileSync(path, before);
        },
      },
    ];
    for (const c of cases) {
      const repair = c.damage();
      const v = await verify(url, b.id);
      expect(v.ok, c.rel).toBe(false);
      expect(v.problems.length, JSON.stringify(v.problems)).toBe(1);
      expect(v.problems[0].file.endsWith(c.rel), JSON.stringify(v.problems)).toBe(true);
      const to = join(makeDataDir(), 'restored');
      const run = await runRestore(['--from', b.path, '--to', to]);
      expect(run.code, `${c.rel}: ${run.stdout}${run.stderr}`).not.toBe(0);
      expect(run.stderr, 'the message names the damaged file').toContain(c.rel);
      expect(namesIn(to), 'nothing restored from a damaged backup').toEqual([]);
      repair();
      expect((await verify(url, b.id)).ok, `${c.rel} repaired`).toBe(true);
    }
    // A manifest that is not one: the backup is no longer listed, and restore refuses it.
    const manifestPath = join(b.path, 'manifest.json');
    const manifest = readFileSync(manifestPath);
    writeFileSync(manifestPath, manifest.subarray(0, manifest.length - 10));
    try {
      expect((await listBackups(url)).map((x) => x.id)).not.toContain(b.id);
      await expectError(await fetch(`${url}/api/v1/backups/${b.id}/verify`, { method: 'POST' }), 404, 'BACKUP_NOT_FOUND');
      const run = await runRestore(['--from', b.path, '--to', join(makeDataDir(), 'r')]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('manifest.json');
    } finally {
      writeFileSync(manifestPath, manifest);
    }
  });

  it('refuses bad backup requests and bad restore command lines', { timeout: 60_000 }, async () => {
    const url = server.url;
    await expectError(await postBackup(url, { incremental: 'yes' }), 400, 'INVALID_PARAMETER');
    const unknown = await answer(await postBackup(url, { incremental: false, level: 9 }));
    expect({ status: unknown.status, ok: unknown.ok }, unknown.text).toEqual({ status: 400, ok: false });
    const broken = await answer(await postBackup(url, '{"incremental":'));
    expect({ status: broken.status, ok: broken.ok }, broken.text).toEqual({ status: 400, ok: false });
    const array = await answer(await postBackup(url, '[true]'));
    expect({ status: array.status, ok: array.ok }, array.text).toEqual({ status: 400, ok: false });

    // Unknown ids.
    await expectError(await fetch(`${url}/api/v1/backups/20000101T000000000Z-abcdef`), 404, 'BACKUP_NOT_FOUND');
    await expectError(await fetch(`${url}/api/v1/backups/nope`), 404, 'BACKUP_NOT_FOUND');
    await expectError(await fetch(`${url}/api/v1/backups/20000101T000000000Z-abcdef/verify`, { method: 'POST' }), 404, 'BACKUP_NOT_FOUND');
    await expectError(await fetch(`${url}/api/v1/backups/20000101T000000000Z-abcdef`, { method: 'DELETE' }), 404, 'BACKUP_NOT_FOUND');
    await expectError(await fetch(`${url}/api/v1/backups/..%2F..%2Fetc`, { method: 'DELETE' }), 404, 'BACKUP_NOT_FOUND');

    // Two at once: one is taken, the other refused as in progress (or both taken when the first was quick).
    await kvPutOk(url, 'two/1', 'y'.repeat(20_000));
    const both = await Promise.all([postBackup(url), postBackup(url)].map(async (p) => answer<{ id: string }>(await p)));
    const statuses = both.map((x) => x.status).sort();
    expect([[201, 201], [201, 409]], JSON.stringify(both.map((x) => x.text.slice(0, 200)))).toContainEqual(statuses);
    for (const x of both) if (x.status === 409) expect(x.code).toBe('BACKUP_IN_PROGRESS');
    const taken = both.filter((x) => x.status === 201).map((x) => (x.data as { id: string }).id);
    for (const id of taken) expect((await verify(url, id)).ok).toBe(true);
    expect(new Set(taken).size, 'two backups, two ids').toBe(taken.length);

    // Restore command lines.
    const b = await backupDetail(url, taken[0]);
    const archive = makeDataDir();
    const refused = async (args: string[], mention: RegExp): Promise<void> => {
      const run = await runRestore(args);
      expect(run.code, `restore ${args.join(' ')}: ${run.stdout}${run.stderr}`).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(run.stderr, `restore ${args.join(' ')}`).toMatch(mention);
    };
    const fresh = (): string => join(makeDataDir(), 'r');
    await refused(['--from', b.path, '--to', fresh(), '--until', new Date(b.cut_ms - 60_000).toISOString(), '--archive', archive], /before/);
    await refused(['--from', b.path, '--to', fresh(), '--until-ts', String(b.cut_ms - 1), '--archive', archive], /before/);
    await refused(['--to', fresh()], /--from|usage/);
    await refused(['--from', b.path], /--to|usage/);
    await refused([], /usage|--from/);
    await refused(['--from', b.path, '--to', fresh(), '--until', 'yesterday', '--archive', archive], /--until/);
    await refused(['--from', b.path, '--to', fresh(), '--until', '2026-12-07T10:00:00', '--archive', archive], /--until/);
    await refused(['--from', b.path, '--to', fresh(), '--until', new Date(b.cut_ms + 1000).toISOString()], /archive/);
    await refused(['--from', b.path, '--to', fresh(), '--frm', 'x'], /--frm/);
    await refused(['--from', join(backupDir, 'no-such-backup'), '--to', fresh()], /manifest/);
    const nonEmpty = makeDataDir();
    writeFileSync(join(nonEmpty, 'keep-me'), 'mine');
    await refused(['--from', b.path, '--to', nonEmpty], /not empty/);
    expect(readdirSync(nonEmpty)).toEqual(['keep-me']);
  });
});

// ==================================================================================
// Starting with bad backup flags.
// ==================================================================================

describe('backup flags at start', () => {
  it('a bad --backup-schedule, a schedule without --backup-dir and a backup dir inside the data dir exit 2', async () => {
    const bad = await startExpectingFailure({ shards: 1, extraArgs: ['--backup-dir', makeDataDir(), '--backup-schedule', 'not cron'] });
    expect({ code: bad.code, signal: bad.signal }).toEqual({ code: 2, signal: null });
    expect(bad.stderr).toContain('--backup-schedule');
    const noDir = await startExpectingFailure({ shards: 1, extraArgs: ['--backup-schedule', '0 3 * * *'] });
    expect(noDir.code).toBe(2);
    expect(noDir.stderr).toContain('--backup-dir');
    const dataDir = makeDataDir();
    const inside = await startExpectingFailure({ shards: 1, dataDir, extraArgs: ['--backup-dir', join(dataDir, 'backups')] });
    expect(inside.code).toBe(2);
    const negative = await startExpectingFailure({ shards: 1, extraArgs: ['--backup-dir', makeDataDir(), '--backup-keep-last', '-1'] });
    expect(negative.code).toBe(2);
  });
});

// ==================================================================================
// Point-in-time recovery to three moments.
// ==================================================================================

describe('point-in-time restore (--wal-archive, 2 shards)', () => {
  it('restores to each of three moments exactly the writes before it', { timeout: 90_000 }, async () => {
    const backupDir = makeDataDir();
    const archive = makeDataDir();
    const server = await startServer({ shards: SHARDS, extraArgs: ['--backup-dir', backupDir, '--wal-archive', archive] });
    const url = server.url;
    const COLL = 'pitr_docs';
    const TABLE = 'pitr_rows';
    const [x] = keysOnShard('pitr/x', SHARDS, 0, 1);
    const [y] = keysOnShard('pitr/y', SHARDS, 1, 1);
    const kvOf = (p: string): string[] => [...keysOnShard(`pitr/${p}/`, SHARDS, 0, 3), ...keysOnShard(`pitr/${p}/`, SHARDS, 1, 3)];

    // Before the backup.
    await expectOk(await docsPost(url, COLL, 'insert', { documents: [{ _id: 'base', phase: '0' }] }));
    await expectOk(await docsPost(url, COLL, 'indexes', { name: 'by_phase', keys: { phase: 1 } }));
    await sql(url, `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, phase text)`);
    await kvPutOk(url, 'pitr/shared', '0');
    await expectOk(await execute(url, { operations: [{ op: 'put', key: x, value: '100' }, { op: 'put', key: y, value: '100' }] }));
    const backup = await takeBackup(url);

    let lastCommitTs = 0;
    const transfer = async (from: number, to: number): Promise<void> => {
      const done = await expectOk<{ commit_ts: number }>(await execute(url, { conditions: [{ key: x, value: String(from) }], operations: [{ op: 'put', key: x, value: String(to) }, { op: 'put', key: y, value: String(200 - to) }] }));
      lastCommitTs = Math.max(lastCommitTs, done.data.commit_ts);
    };
    const phaseWrites = async (p: string, rowIds: number[]): Promise<void> => {
      for (const key of kvOf(p)) await kvPutOk(url, key, `${p}:${key}`);
      await expectOk(await docsPost(url, COLL, 'insert', { documents: [0, 1, 2, 3].map((i) => ({ _id: `${p}${i}`, phase: p })) }));
      await sql(url, `INSERT INTO ${TABLE} (id, phase) VALUES ${rowIds.map((id) => `(${id}, '${p}')`).join(', ')}`);
      await kvPutOk(url, 'pitr/shared', p);
    };
    const moments: { iso: string; ms: number }[] = [];
    const moment = async (): Promise<void> => {
      await sleep(60);
      const ms = Date.now();
      moments.push({ iso: new Date(ms).toISOString(), ms });
      await sleep(60);
    };

    // Phase A.
    await phaseWrites('A', [1, 2, 3]);
    await transfer(100, 90);
    await moment();
    // Phase B: more, an update and a delete of A's writes, a new collection, a table move.
    await phaseWrites('B', [4, 5, 6]);
    await transfer(90, 80);
    await kvDeleteOk(url, kvOf('A')[0]);
    await expectOk(await docsPost(url, COLL, 'update', { filter: { _id: 'A0' }, update: { $set: { phase: 'AB' } } }));
    await sql(url, `UPDATE ${TABLE} SET phase = 'A1B' WHERE id = 1`);
    await expectOk(await docsPost(url, 'pitr_late', 'insert', { documents: [{ _id: 'late' }] }));
    await expectOk(await sendJson(`${url}/api/v1/tables/${TABLE}/move`, 'POST', {}));
    await moment();
    // Phase C: more, a row delete, a new table.
    await phaseWrites('C', [7, 8, 9]);
    await transfer(80, 70);
    await sql(url, `DELETE FROM ${TABLE} WHERE id = 2`);
    await sql(url, 'CREATE TABLE pitr_late_t (id bigint PRIMARY KEY)');
    await moment();
    await stopOk(server);
    expect(namesIn(archive).sort()).toEqual(['shard-0', 'shard-1']);

    const expectedAt = (k: number) => {
      const phases = ['A', 'B', 'C'].slice(0, k);
      const kv = new Map<string, string | null>();
      for (const p of ['A', 'B', 'C']) for (const key of kvOf(p)) kv.set(key, phases.includes(p) ? `${p}:${key}` : null);
      if (k >= 2) kv.set(kvOf('A')[0], null);
      kv.set('pitr/shared', ['0', 'A', 'B', 'C'][k]);
      const xv = [100, 90, 80, 70][k];
      kv.set(x, String(xv));
      kv.set(y, String(200 - xv));
      const docs: Record<string, string> = { base: '0' };
      for (const p of phases) for (const i of [0, 1, 2, 3]) docs[`${p}${i}`] = p;
      if (k >= 2) docs.A0 = 'AB';
      const rows: [number, string][] = [];
      for (const [j, p] of phases.entries()) for (const id of [1, 2, 3].map((i) => 3 * j + i)) rows.push([id, p]);
      const rowsFinal = rows.filter(([id]) => !(k >= 3 && id === 2)).map(([id, p]): [number, string] => (k >= 2 && id === 1 ? [id, 'A1B'] : [id, p]));
      return { kv, docs, rows: rowsFinal, collections: k >= 2 ? [COLL, 'pitr_late'] : [COLL], tables: k >= 3 ? [TABLE, 'pitr_late_t'] : [TABLE] };
    };

    const problems: string[] = [];
    for (const [i, m] of moments.entries()) {
      const k = i + 1;
      const to = makeDataDir();
      const until = k === 2 ? ['--until-ts', String(m.ms)] : ['--until', m.iso];
      const run = await runRestore(['--from', backup.path, '--to', to, ...until, '--archive', archive]);
      if (run.code !== 0) {
        problems.push(`moment ${k} (${m.iso}): restore exited ${run.code}: ${run.stderr.slice(0, 500)}`);
        continue;
      }
      const restored = await startServer({ shards: SHARDS, dataDir: to });
      try {
        const r = restored.url;
        const want = expectedAt(k);
        const where = `moment ${k} (${m.iso})`;
        for (const [key, value] of want.kv) {
          const got = await kvGet(r, key);
          if (got !== value) problems.push(`${where}: ${key} = ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
        }
        const docs = await findAllDocs(r, COLL);
        const gotDocs = Object.fromEntries(docs.map((d) => [String(d._id), String(d.phase)]));
        if (JSON.stringify(Object.entries(gotDocs).sort()) !== JSON.stringify(Object.entries(want.docs).sort())) problems.push(`${where}: documents ${JSON.stringify(gotDocs)}, want ${JSON.stringify(want.docs)}`);
        for (const p of ['A', 'B', 'C']) {
          const viaIndex = (await findAllDocs(r, COLL, { phase: p })).map((d) => String(d._id)).sort();
          const wantIds = Object.entries(want.docs).filter(([, v]) => v === p).map(([id]) => id).sort();
          if (JSON.stringify(viaIndex) !== JSON.stringify(wantIds)) problems.push(`${where}: find {phase:"${p}"} (index by_phase) gave ${viaIndex.join(',')}, want ${wantIds.join(',')}`);
        }
        const rowsAnswer = await answer<{ rows: [number, string][] }>(await sendJson(`${r}/api/v1/sql`, 'POST', { query: `SELECT id, phase FROM ${TABLE} ORDER BY id` }));
        if (!rowsAnswer.ok) problems.push(`${where}: SELECT from ${TABLE} failed: ${rowsAnswer.text.slice(0, 300)}`);
        else if (JSON.stringify(rowsAnswer.data?.rows) !== JSON.stringify(want.rows)) problems.push(`${where}: rows ${JSON.stringify(rowsAnswer.data?.rows)}, want ${JSON.stringify(want.rows)}`);
        const colls = (await expectOk<{ name: string }[]>(await fetch(`${r}/api/v1/docs`))).data.map((c) => c.name).sort();
        if (JSON.stringify(colls) !== JSON.stringify([...want.collections].sort())) problems.push(`${where}: collections ${colls.join(',')}, want ${want.collections.join(',')}`);
        const tables = (await expectOk<{ name: string }[]>(await fetch(`${r}/api/v1/tables`))).data.map((t) => t.name).sort();
        if (JSON.stringify(tables) !== JSON.stringify([...want.tables].sort())) problems.push(`${where}: tables ${tables.join(',')}, want ${want.tables.join(',')}`);
        if (k === 3) {
          // The restored server goes on from there: new commits above every replayed one, reads see them.
          const xv = Number(want.kv.get(x));
          const next = await answer<{ commit_ts: number }>(await execute(r, { conditions: [{ key: x, value: String(xv) }], operations: [{ op: 'put', key: x, value: String(xv - 1) }, { op: 'put', key: y, value: String(200 - xv + 1) }] }));
          if (!next.ok) problems.push(`${where}: a transfer after the restore failed: ${next.text.slice(0, 300)}`);
          else if ((next.data?.commit_ts ?? 0) <= lastCommitTs) problems.push(`${where}: commit_ts ${next.data?.commit_ts} after the restore, not above the last replayed ${lastCommitTs}`);
          const after = [await kvGet(r, x), await kvGet(r, y)];
          if (JSON.stringify(after) !== JSON.stringify([String(xv - 1), String(200 - xv + 1)])) problems.push(`${where}: after a transfer on the restored server x,y = ${after.join(',')}`);
        }
      } finally {
        await stopOk(restored);
      }
    }
    expect(problems).toEqual([]);
  });
});

// ==================================================================================
// Point-in-time recovery across a crash of the original server.
// ==================================================================================

describe('point-in-time restore across a kill -9 and restart of the original server', () => {
  it('replays the writes of before the crash and of after the restart', { timeout: 60_000 }, async () => {
    const backupDir = makeDataDir();
    const archive = makeDataDir();
    const dataDir = makeDataDir();
    const args = ['--backup-dir', backupDir, '--wal-archive', archive];
    let server = await startServer({ shards: SHARDS, dataDir, extraArgs: args });
    await kvPutOk(server.url, 'crash/base', 'base');
    const backup = await takeBackup(server.url);
    const beforeCrash = [...keysOnShard('crash/before/', SHARDS, 0, 2), ...keysOnShard('crash/before/', SHARDS, 1, 2)];
    for (const key of beforeCrash) await kvPutOk(server.url, key, 'before');
    await sleep(60);
    const m1 = new Date().toISOString();
    await sleep(60);
    await server.kill9();
    server = await startServer({ shards: SHARDS, dataDir, extraArgs: args });
    const afterRestart = [...keysOnShard('crash/after/', SHARDS, 0, 2), ...keysOnShard('crash/after/', SHARDS, 1, 2)];
    for (const key of afterRestart) await kvPutOk(server.url, key, 'after');
    await sleep(60);
    const m2 = new Date().toISOString();
    await sleep(60);
    await stopOk(server);

    const results: Record<string, unknown> = {};
    for (const [name, until, want] of [
      ['m1 (before the crash)', m1, { before: 'before', after: null }],
      ['m2 (after the restart)', m2, { before: 'before', after: 'after' }],
    ] as const) {
      const to = makeDataDir();
      const run = await runRestore(['--from', backup.path, '--to', to, '--until', until, '--archive', archive]);
      if (run.code !== 0) {
        results[name] = `restore exited ${run.code}: ${run.stderr.trim().slice(0, 400)}`;
        continue;
      }
      const restored = await startServer({ shards: SHARDS, dataDir: to });
      try {
        const got = { base: await kvGet(restored.url, 'crash/base'), before: [] as (string | null)[], after: [] as (string | null)[] };
        for (const key of beforeCrash) got.before.push(await kvGet(restored.url, key));
        for (const key of afterRestart) got.after.push(await kvGet(restored.url, key));
        const expected = { base: 'base', before: beforeCrash.map(() => want.before), after: afterRestart.map(() => want.after) };
        results[name] = JSON.stringify(got) === JSON.stringify(expected) ? 'ok' : { got, expected };
      } finally {
        await stopOk(restored);
      }
    }
    expect(results).toEqual({ 'm1 (before the crash)': 'ok', 'm2 (after the restart)': 'ok' });
  });
  it('a backup taken on an empty WAL, then a crash: the restore replays the writes of before the crash, or refuses (never exit 0 without them)', { timeout: 60_000 }, async () => {
    const backupDir = makeDataDir();
    const archive = makeDataDir();
    const dataDir = makeDataDir();
    const args = ['--backup-dir', backupDir, '--wal-archive', archive];
    let server = await startServer({ shards: 1, dataDir, extraArgs: args });
    const backup = await takeBackup(server.url); // the WAL holds nothing yet: the cut is at offset 0
    await kvPutOk(server.url, 'k1', 'one');
    await server.kill9();
    server = await startServer({ shards: 1, dataDir, extraArgs: args });
    await kvPutOk(server.url, 'k2', 'two');
    await sleep(60);
    const until = new Date().toISOString();
    await sleep(60);
    await stopOk(server);
    const to = makeDataDir();
    const run = await runRestore(['--from', backup.path, '--to', to, '--until', until, '--archive', archive]);
    if (run.code !== 0) return; // refused: the archive lacks k1's segment, and the restore says so
    const restored = await startServer({ shards: 1, dataDir: to });
    try {
      expect({ k1: await kvGet(restored.url, 'k1'), k2: await kvGet(restored.url, 'k2') }, `restore exited 0 (${run.stdout.trim().split('\n').slice(-2, -1).join('')})`).toEqual({ k1: 'one', k2: 'two' });
    } finally {
      await stopOk(restored);
    }
  });
});

// ==================================================================================
// Retention by count.
// ==================================================================================

describe('retention (--backup-keep-last 2)', () => {
  it('four backups leave exactly the newest two, listed and on disk; DELETE removes one', async () => {
    const backupDir = makeDataDir();
    const server = await startServer({ shards: 1, extraArgs: ['--backup-dir', backupDir, '--backup-keep-last', '2'] });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        await kvPutOk(server.url, `keep/${i}`, `v${i}`);
        ids.push((await takeBackup(server.url)).id);
        await sleep(5);
      }
      expect(new Set(ids).size).toBe(4);
      const listed = await listBackups(server.url);
      expect(listed.map((b) => b.id)).toEqual(ids.slice(2));
      expect(namesIn(backupDir)).toEqual(ids.slice(2).sort());
      for (const id of ids.slice(0, 2)) await expectError(await fetch(`${server.url}/api/v1/backups/${id}`), 404, 'BACKUP_NOT_FOUND');
      await expectOk(await fetch(`${server.url}/api/v1/backups/${ids[2]}`, { method: 'DELETE' }));
      expect((await listBackups(server.url)).map((b) => b.id)).toEqual([ids[3]]);
      expect(namesIn(backupDir)).toEqual([ids[3]]);
      await expectError(await fetch(`${server.url}/api/v1/backups/${ids[2]}`, { method: 'DELETE' }), 404, 'BACKUP_NOT_FOUND');
    } finally {
      await stopOk(server);
    }
  });
});

// ==================================================================================
// Incremental backups and kill -9 during a backup: a few MiB of data, so tables exist.
// ==================================================================================

describe('incremental backups and kill -9 mid-backup (--memory-budget-mb 4, 2 shards)', () => {
  const ARGS = ['--memory-budget-mb', '4'];
  let backupDir: string;
  let dataDir: string;
  let server: ServerProcess;
  const VALUE_BYTES = 8 * 1024;
  /** key → version written last. */
  const written = new Map<string, number>();
  const TABLE = 'inc_rows';

  const writeKv = async (prefix: string, count: number, version: number): Promise<void> => {
    for (let at = 0; at < count; at += 50) {
      const keys = Array.from({ length: Math.min(50, count - at) }, (_, i) => `${prefix}${at + i}`);
      const done = await postBatch(server.url, keys.map((key) => ({ op: 'put', key, value: valueOf(key, version, VALUE_BYTES) })));
      expect(done.status, done.text).toBe(200);
      for (const key of keys) written.set(key, version);
    }
  };
  const checkKv = async (url: string): Promise<string[]> => {
    const got = await batchGetAll(url, [...written.keys()]);
    const wrong: string[] = [];
    for (const [key, version] of written) {
      const v = got.get(key);
      if (v === undefined || !v.equals(valueOf(key, version, VALUE_BYTES))) wrong.push(`${key}: ${v === undefined ? 'missing' : 'wrong value'}`);
    }
    return wrong;
  };

  beforeAll(async () => {
    backupDir = makeDataDir();
    dataDir = makeDataDir();
    server = await startServer({ shards: SHARDS, dataDir, extraArgs: [...ARGS, '--backup-dir', backupDir] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('an incremental backup reuses the unchanged files of its base, stands alone once the base is deleted, and restores', { timeout: 90_000 }, async () => {
    const url = server.url;
    await writeKv('inc/a/', 800, 1); // ~6.5 MiB: several flushes per shard
    await sql(url, `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, v text)`);
    for (let at = 1; at <= 3000; at += 500) {
      await expectOk(await sendJson(`${url}/api/v1/tables/${TABLE}/rows`, 'POST', { rows: Array.from({ length: 500 }, (_, i) => ({ id: at + i, v: 'first' })) }));
    }
    await expectOk(await sendJson(`${url}/api/v1/tables/${TABLE}/move`, 'POST', {}));
    const m = await scrape(url);
    expect(m.value('mantis_lsm_flushes_total'), 'tables exist before the first backup').toBeGreaterThan(0);

    const full = await takeBackup(url);
    const fullDetail = await backupDetail(url, full.id);
    expect(fullDetail.file_list.some((f) => /\/sst\/\d+\.sst$/.test(f.path))).toBe(true);

    // More writes: a few keys rewritten, new ones, rows, a document.
    await writeKv('inc/a/', 20, 2);
    await writeKv('inc/b/', 100, 1);
    await expectOk(await sendJson(`${url}/api/v1/tables/${TABLE}/rows`, 'POST', { rows: [{ id: 5000, v: 'second' }] }));
    await expectOk(await docsPost(url, 'inc_docs', 'insert', { documents: [{ _id: 'one', n: 1 }] }));

    const inc = await takeBackup(url, true);
    expect(inc).toMatchObject({ incremental: true, base: full.id });
    expect(inc.copied_bytes).toBeLessThan(inc.bytes);
    const incDetail = await backupDetail(url, inc.id);
    const reused = incDetail.file_list.filter((f) => f.reused === true);
    expect(reused.length).toBeGreaterThan(0);
    const baseFiles = new Map(fullDetail.file_list.map((f) => [f.path, f]));
    for (const f of reused) {
      expect(f.path).toMatch(/^shards\/\d+\/(sst\/\d+\.sst|wal\/\d+\.wal|tables\/.+\.seg)$/);
      expect(baseFiles.get(f.path), f.path).toMatchObject({ bytes: f.bytes, sha256: f.sha256 });
    }
    expect((await verify(url, inc.id)).ok).toBe(true);

    // The base goes; the incremental stands alone.
    await expectOk(await fetch(`${url}/api/v1/backups/${full.id}`, { method: 'DELETE' }));
    expect((await listBackups(url)).map((b) => b.id)).toEqual([inc.id]);
    expect(await verify(url, inc.id)).toMatchObject({ ok: true, problems: [] });

    // The tar of the incremental holds the reused files too.
    const tar = await parseTar(Buffer.from(await (await fetch(`${url}/api/storage/download?path=${encodeURIComponent(`backups/${inc.id}`)}`)).arrayBuffer()));
    expect(tar.length).toBe(incDetail.file_list.length + 1);
    const tarSizes = new Map(tar.map((e) => [e.name, e.size]));
    for (const f of incDetail.file_list) expect(tarSizes.get(`${inc.id}/data/${f.path}`), f.path).toBe(f.bytes);

    const to = makeDataDir();
    await restoreOk(['--from', inc.path, '--to', to]);
    const restored = await startServer({ shards: SHARDS, dataDir: to, extraArgs: ARGS });
    try {
      expect(await checkKv(restored.url)).toEqual([]);
      const rows = await sql(restored.url, `SELECT count(*), min(id), max(id) FROM ${TABLE}`);
      expect(rows.rows[0].map(Number)).toEqual([3001, 1, 5000]);
      expect((await sql(restored.url, `SELECT v FROM ${TABLE} WHERE id = 5000`)).rows).toEqual([['second']]);
      expect((await findAllDocs(restored.url, 'inc_docs')).map((d) => d._id)).toEqual(['one']);
    } finally {
      await stopOk(restored);
    }
    // The byte counts: a full backup copies every byte; an incremental copies all but what it reuses.
    expect({ bytes: full.bytes, copied_bytes: full.copied_bytes }, 'full backup: copied_bytes = bytes').toEqual({ bytes: full.bytes, copied_bytes: full.bytes });
    expect(inc.copied_bytes, 'incremental: copied_bytes = bytes - the reused files').toBe(inc.bytes - reused.reduce((n, f) => n + f.bytes, 0));
  });

  it('an incremental backup on a restored server does not reuse a same-named file of the old timeline', { timeout: 60_000 }, async () => {
    // Old timeline: k=v0, backup B1; restart; k=AAAA (alone in WAL segment 2); restart; full backup B2.
    // New timeline: restore B1, start on it with the same --backup-dir; k=BBBB (alone in ITS segment 2,
    // same size); restart; incremental backup (base: B2, the newest). Restoring it must give BBBB.
    const dir = makeDataDir();
    const data = makeDataDir();
    const args = ['--backup-dir', dir];
    const run = async (dataDir: string, work: (url: string) => Promise<void>): Promise<void> => {
      const s = await startServer({ shards: 1, dataDir, extraArgs: args });
      try {
        await work(s.url);
      } finally {
        await stopOk(s);
      }
    };
    let b1 = '';
    await run(data, async (u) => {
      await kvPutOk(u, 'k', 'v0');
      b1 = (await takeBackup(u)).path;
    });
    await run(data, (u) => kvPutOk(u, 'k', 'AAAA'));
    await run(data, async (u) => void (await takeBackup(u)));
    const timeline2 = makeDataDir();
    await restoreOk(['--from', b1, '--to', timeline2]);
    await run(timeline2, (u) => kvPutOk(u, 'k', 'BBBB'));
    let inc: { path: string; id: string } = { path: '', id: '' };
    let reused: string[] = [];
    await run(timeline2, async (u) => {
      expect(await kvGet(u, 'k')).toBe('BBBB');
      inc = await takeBackup(u, true);
      reused = (await backupDetail(u, inc.id)).file_list.filter((f) => f.reused === true).map((f) => f.path);
    });
    const to = makeDataDir();
    await restoreOk(['--from', inc.path, '--to', to]);
    await run(to, async (u) => {
      expect(await kvGet(u, 'k'), `restored from the incremental (reused from the old timeline's backup: ${reused.join(', ')})`).toBe('BBBB');
    });
  });

  it('kill -9 during a backup leaves no listed half backup; the restart removes the partial folder and the staging links', { timeout: 90_000 }, async () => {
    if (written.size === 0) await writeKv('inc/a/', 800, 1);
    // kill as soon as the cut's staging folder appears, as soon as the copy's folder appears, and a while after.
    const triggers: { name: string; ready: () => boolean }[] = [
      { name: 'staging', ready: () => namesIn(join(dataDir, 'backup-staging')).length > 0 },
      { name: 'partial', ready: () => namesIn(backupDir).some((n) => n.startsWith('.partial-')) },
      { name: 'partial+15ms', ready: () => namesIn(backupDir).some((n) => n.startsWith('.partial-')) },
    ];
    const caught: string[] = [];
    for (const t of triggers) {
      const before = (await listBackups(server.url)).map((b) => b.id);
      const post = postBackup(server.url).then(
        (r) => r.status,
        () => 'killed',
      );
      const deadline = Date.now() + 5000;
      while (!t.ready() && Date.now() < deadline && server.proc.exitCode === null) await new Promise((r) => setImmediate(r));
      if (t.name.endsWith('ms')) await sleep(15);
      await server.kill9();
      const status = await post;
      const leftovers = { partial: namesIn(backupDir).filter((n) => n.startsWith('.partial-')), staging: namesIn(join(dataDir, 'backup-staging')) };
      if (leftovers.partial.length > 0 || leftovers.staging.length > 0) caught.push(`${t.name}: ${JSON.stringify(leftovers)} (POST: ${status})`);

      server = await startServer({ shards: SHARDS, dataDir, extraArgs: [...ARGS, '--backup-dir', backupDir] });
      const listed = await listBackups(server.url);
      expect(listed.slice(0, before.length).map((b) => b.id), `${t.name}: earlier backups still listed`).toEqual(before);
      expect(listed.length - before.length, `${t.name}: at most the one backup asked for, complete`).toBeLessThanOrEqual(1);
      for (const b of listed) expect(await verify(server.url, b.id), `${t.name}: ${b.id}`).toMatchObject({ ok: true });
      expect(namesIn(backupDir).filter((n) => n.startsWith('.partial-')), `${t.name}: no partial folder after the restart`).toEqual([]);
      expect(existsSync(join(dataDir, 'backup-staging')) ? namesIn(join(dataDir, 'backup-staging')) : [], `${t.name}: no staging folder after the restart`).toEqual([]);
      expect(namesIn(backupDir).filter((n) => !listed.some((b) => b.id === n))).toEqual([]);
      expect(await checkKv(server.url), `${t.name}: the data survives`).toEqual([]);
    }
    expect(caught.length, 'at least one kill landed in the middle of a backup').toBeGreaterThan(0);
    // And backups work again.
    const after = await takeBackup(server.url);
    expect((await verify(server.url, after.id)).ok).toBe(true);
  });
});

// ==================================================================================
// Scheduled backups.
// ==================================================================================

describe('scheduled backups (--backup-schedule "*/2 * * * * *", --backup-keep-last 3)', () => {
  it('takes a backup every 2 s (at least 2 within ~6 s), keeping the newest 3', { timeout: 60_000 }, async () => {
    const backupDir = makeDataDir();
    const server = await startServer({ shards: 1, extraArgs: ['--backup-dir', backupDir, '--backup-schedule', '*/2 * * * * *', '--backup-keep-last', '3'] });
    const ready = Date.now();
    try {
      await kvPutOk(server.url, 'sched/1', 'v');
      const meta = (await expectOk<unknown[]>(await fetch(`${server.url}/api/v1/backups`))).meta as { next_scheduled?: string | null };
      expect(typeof meta.next_scheduled).toBe('string');
      expect(Date.parse(meta.next_scheduled as string)).toBeGreaterThan(ready - 1000);
      await waitUntil(async () => ((await listBackups(server.url)).length >= 2 ? true : undefined), { timeoutMs: 6_500, what: 'two scheduled backups' });
      // Two more rounds: retention keeps 3.
      await waitUntil(async () => ((await scrape(server.url)).value('mantis_backups_total', { outcome: 'success' }) >= 4 ? true : undefined), { timeoutMs: 8_000, what: 'four scheduled backups' });
      const listed = await listBackups(server.url);
      expect(listed.length).toBe(3);
      expect(namesIn(backupDir).filter((n) => !n.startsWith('.'))).toEqual(listed.map((b) => b.id).sort());
      // Two seconds apart, give or take a busy event loop.
      const times = listed.map((b) => Date.parse(b.created_at)).sort((a, b) => a - b);
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1], 'backups of the 2-second schedule').toBeGreaterThanOrEqual(1000);
      for (const b of listed) expect((await verify(server.url, b.id)).ok).toBe(true);
      expect((await kvGet(server.url, 'sched/1'))).toBe('v');
    } finally {
      await stopOk(server);
    }
  });
});
