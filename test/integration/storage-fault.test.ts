// A WAL write or fsync that fails must never be acknowledged: the write is
// refused (503 STORAGE_IO / 507 STORAGE_FULL) and rolled back, later writes
// are refused too, and reads keep being served. Faults come from the WAL's
// test hook MANTIS_FAULT_WAL (kind@N: the first N operations succeed).

import { afterAll, describe, expect, it } from 'vitest';
import { expectError, expectOk } from '../helpers/http-client.js';
import { kvUrl, putValue } from '../helpers/kv-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';

afterAll(cleanup);

async function expectText(base: string, key: string, text: string): Promise<void> {
  const response = await fetch(kvUrl(base, key));
  expect(response.status).toBe(200);
  expect(await response.text()).toBe(text);
}

describe.each([
  { fault: 'eio-on-fsync@2', status: 503, code: 'STORAGE_IO' },
  { fault: 'eio-on-write@2', status: 503, code: 'STORAGE_IO' },
  { fault: 'enospc-on-write@2', status: 507, code: 'STORAGE_FULL' },
])('WAL fault $fault', ({ fault, status, code }) => {
  it(`refuses the failing write with ${status} ${code}, rolls it back, keeps serving reads`, async () => {
    const server = await startServer({ shards: 1, fsync: 'always', env: { MANTIS_FAULT_WAL: fault } });
    try {
      await expectOk(await putValue(server.url, 'a', 'one', 'text/plain'));
      await expectOk(await putValue(server.url, 'b', 'two', 'text/plain'));
      const failed = await expectError(await putValue(server.url, 'c', 'three', 'text/plain'), status, code);
      expect(failed.retryable).toBe(false);
      // Not acknowledged, so not visible either.
      await expectError(await fetch(kvUrl(server.url, 'c')), 404, 'KEY_NOT_FOUND');
      // Every later write is refused; reads and listing still work.
      await expectError(await putValue(server.url, 'a', 'changed', 'text/plain'), status, code);
      await expectError(await fetch(kvUrl(server.url, 'b'), { method: 'DELETE' }), status, code);
      await expectText(server.url, 'a', 'one');
      await expectText(server.url, 'b', 'two');
      const listed = await expectOk<string[]>(await fetch(`${server.url}/api/v1/kv?prefix=`));
      expect(listed.data).toEqual(['a', 'b']);
      const metrics = await (await fetch(`${server.url}/api/metrics/prometheus`)).text();
      expect(metrics).toMatch(/mantis_shard_storage_failed\{shard="0"\} 1/);
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
