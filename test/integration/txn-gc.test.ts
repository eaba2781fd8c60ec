// Old versions are kept only while a snapshot may read them: an open
// transaction pins the versions written after its snapshot, they are collected
// once it ends, and a transaction left open past --txn-max-age-ms is aborted
// on its own (TXN_SNAPSHOT_TOO_OLD) so it cannot pin them for ever.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectError, expectOk, keyPath, waitUntil } from '../helpers/http-client.js';
import { scrape } from '../helpers/storage-fixtures.js';

const MAX_AGE_MS = 2500;
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 1, fsync: 'none', extraArgs: ['--txn-max-age-ms', String(MAX_AGE_MS)] });
});
afterAll(cleanup);

const put = async (key: string, value: string): Promise<void> => {
  await expectOk(await fetch(`${server.url}/api/v1/kv/${keyPath(key)}`, { method: 'PUT', body: value }));
};
const begin = async (body: unknown): Promise<string> =>
  (await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }))).data.id;
const txnGet = (id: string, key: string): Promise<Response> => fetch(`${server.url}/api/v1/kv/${keyPath(key)}`, { headers: { 'Mantis-Txn': id } });
const versions = async (): Promise<number> => (await scrape(server.url)).value('mantis_txn_versions');

describe('version GC and --txn-max-age-ms', () => {
  it('an open snapshot pins the versions written after it; they are collected once it commits', async () => {
    await put('gc/pinned', 'v0');
    const id = await begin({ isolation: 'snapshot', timeout_ms: 60_000 });
    for (let i = 1; i <= 200; i++) await put('gc/pinned', `v${i}`);
    // The snapshot still reads the value it began with.
    const read = await txnGet(id, 'gc/pinned');
    expect(read.status).toBe(200);
    expect(await read.text()).toBe('v0');
    // The shards publish their gauges every sweep tick (250 ms).
    await waitUntil(async () => ((await versions()) >= 200 ? true : undefined), { timeoutMs: 3000, what: '200 versions pinned by the open snapshot' });
    await expectOk(await fetch(`${server.url}/api/v1/txn/${id}/commit`, { method: 'POST' }));
    await waitUntil(async () => ((await versions()) < 10 ? true : undefined), { timeoutMs: 5000, what: 'versions collected after the transaction ended' });
  });

  it('a transaction left open past --txn-max-age-ms is aborted without being touched, and stops pinning versions', async () => {
    const id = await begin({ isolation: 'serializable', timeout_ms: 600_000 });
    expect((await txnGet(id, 'gc/aged')).status).toBe(404);
    for (let i = 0; i < 200; i++) await put('gc/aged', `v${i}`);
    await waitUntil(async () => ((await versions()) >= 200 ? true : undefined), { timeoutMs: 3000, what: '200 versions pinned by the open transaction' });
    // Never touched again: the manager must end it by age alone, and GC then drops the versions.
    await waitUntil(async () => ((await versions()) < 10 ? true : undefined), { timeoutMs: MAX_AGE_MS + 5000, what: 'versions collected after the max age' });
    const metrics = await scrape(server.url);
    expect(metrics.value('mantis_txn_aborts_total', { reason: 'snapshot_too_old' })).toBeGreaterThanOrEqual(1);
    const error = await expectError(await fetch(`${server.url}/api/v1/txn/${id}/commit`, { method: 'POST' }), 410, 'TXN_SNAPSHOT_TOO_OLD');
    expect(error.message).toMatch(/txn-max-age-ms/);
    await expectError(await txnGet(id, 'gc/aged'), 410, 'TXN_SNAPSHOT_TOO_OLD');
  });

  it('a busy transaction is aborted once it is older than --txn-max-age-ms, even while it keeps working', async () => {
    const id = await begin({ isolation: 'snapshot', timeout_ms: 600_000 });
    const started = Date.now();
    let status = 200;
    while (status === 200 || status === 404) {
      status = (await txnGet(id, 'gc/busy')).status;
      if (Date.now() - started > MAX_AGE_MS + 5000) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(410);
    expect(Date.now() - started).toBeGreaterThanOrEqual(MAX_AGE_MS - 100);
  });
});

describe('the version store stays within the shard\'s memory budget', () => {
  it('past the cap, the oldest snapshots are refused (TXN_SNAPSHOT_TOO_OLD) instead of the shard holding more; young ones keep reading', async () => {
    const small = await startServer({ shards: 1, fsync: 'none', extraArgs: ['--memory-budget-mb', '4'] });
    const base = small.url;
    const id = (await expectOk<{ id: string }>(await fetch(`${base}/api/v1/txn`, { method: 'POST', body: JSON.stringify({ isolation: 'snapshot', timeout_ms: 60_000 }) }))).data.id;
    const value = 'x'.repeat(64 * 1024);
    // 16 MiB of overwritten values while the snapshot is open: four times the 4 MiB budget.
    for (let i = 0; i < 256; i++) await expectOk(await fetch(`${base}/api/v1/kv/cap/${i % 8}`, { method: 'PUT', body: value }));
    // A young snapshot: only the last few writes come after it.
    const young = (await expectOk<{ id: string }>(await fetch(`${base}/api/v1/txn`, { method: 'POST', body: JSON.stringify({ isolation: 'snapshot', timeout_ms: 60_000 }) }))).data.id;
    for (let i = 0; i < 4; i++) await expectOk(await fetch(`${base}/api/v1/kv/cap/${i % 8}`, { method: 'PUT', body: value }));
    await waitUntil(async () => ((await scrape(base)).value('mantis_txn_version_bytes') < 4 * 1024 * 1024 ? true : undefined), {
      timeoutMs: 5000,
      what: 'version bytes back under the 4 MiB cap',
    });
    await expectError(await fetch(`${base}/api/v1/kv/cap/0`, { headers: { 'Mantis-Txn': id } }), 410, 'TXN_SNAPSHOT_TOO_OLD');
    // The oldest history went first: the young snapshot still reads (the version before its writes).
    const youngRead = await fetch(`${base}/api/v1/kv/cap/0`, { headers: { 'Mantis-Txn': young } });
    expect(youngRead.status).toBe(200);
    await youngRead.arrayBuffer();
    // A new transaction works.
    const fresh = (await expectOk<{ id: string }>(await fetch(`${base}/api/v1/txn`, { method: 'POST' }))).data.id;
    const read = await fetch(`${base}/api/v1/kv/cap/0`, { headers: { 'Mantis-Txn': fresh } });
    expect(read.status).toBe(200);
    expect((await read.text()).length).toBe(value.length);
  });
});
