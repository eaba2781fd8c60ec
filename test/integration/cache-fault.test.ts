// A write the WAL could not make durable leaves nothing stale in the cache:
// the shard writes through its cache when it applies a write, so when the WAL
// write or fsync fails and the write is rolled back, its keys are dropped from
// the cache too. The next GET of an overwritten key goes to the shard (cache
// miss), gets the last acknowledged value and loads it again; a new key that
// was never acknowledged stays 404. Faults come from MANTIS_FAULT_WAL.

import { afterAll, describe, expect, it } from 'vitest';
import { expectError, expectOk } from '../helpers/http-client.js';
import { readCounts } from '../helpers/cache-probe.js';
import { expectValue, kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';

afterAll(cleanup);

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');

describe.each([
  { fault: 'eio-on-write@2', status: 503, code: 'STORAGE_IO' },
  { fault: 'eio-on-fsync@2', status: 503, code: 'STORAGE_IO' },
  { fault: 'enospc-on-write@2', status: 507, code: 'STORAGE_FULL' },
])('cache with WAL fault $fault', ({ fault, status, code }) => {
  it('drops the rolled-back keys from the cache: reads see the last acknowledged value', async () => {
    const server = await startServer({ shards: 1, fsync: 'always', env: { MANTIS_FAULT_WAL: fault } });
    try {
      await expectOk(await putValue(server.url, 'a', 'one', 'text/plain'));
      await expectOk(await putValue(server.url, 'b', 'two', 'text/plain'));
      await expectValue(server.url, 'a', text('one'), 'text/plain'); // a hit: 'a' is cached
      // The failing request overwrites 'a' and creates 'c' in one batch (one WAL record).
      const batch = await fetch(`${server.url}/api/v1/kv/batch`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ops: [{ op: 'put', key: 'a', value: 'changed' }, { op: 'put', key: 'c', value: 'three' }] }),
      });
      await expectError(batch, status, code);
      const before = await readCounts(server.url);
      await expectValue(server.url, 'a', text('one'), 'text/plain');
      const after = await readCounts(server.url);
      expect(after.shardReads - before.shardReads, 'the rolled-back key was no longer cached').toBe(1);
      await expectValue(server.url, 'a', text('one'), 'text/plain');
      expect((await readCounts(server.url)).hits, 'read through again, then a hit').toBe(after.hits + 1);
      await expectError(await fetch(kvUrl(server.url, 'c')), 404, 'KEY_NOT_FOUND');
      // Writes stay refused (and leave the cache alone); reads go on.
      await expectError(await putValue(server.url, 'b', 'changed', 'text/plain'), status, code);
      await expectValue(server.url, 'b', text('two'), 'text/plain');
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
