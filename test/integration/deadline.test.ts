// Mantis-Deadline-Ms: the remaining budget of a request in ms. A bad header is
// 400 INVALID_PARAMETER; a request out of time before the router sends it, or
// before its shard starts it, is answered 504 DEADLINE_EXCEEDED and not
// applied. The shard is made late with the fault hook MANTIS_FAULT_SHARD_DELAY_MS.
// Both listeners (fast path on and off) are checked.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectOk } from '../helpers/http-client.js';
import { kvUrl } from '../helpers/kv-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { scrape } from '../helpers/storage-fixtures.js';

const SHARD_DELAY_MS = 200;
const SHORT_BUDGET_MS = 50;

afterAll(cleanup);

function put(url: string, key: string, deadline: string | null): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
  if (deadline !== null) headers['Mantis-Deadline-Ms'] = deadline;
  return fetch(kvUrl(url, key), { method: 'PUT', headers, body: `value of ${key}` });
}

describe.each([true, false])('Mantis-Deadline-Ms (fast path %s)', (fastPath) => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ shards: 2, fastPath, env: { MANTIS_FAULT_SHARD_DELAY_MS: String(SHARD_DELAY_MS) } });
  });

  it.each(['-1', '1.5', 'soon', '99999999999', '86400001'])('refuses the header value "%s" with 400 INVALID_PARAMETER', async (value) => {
    const error = await expectError(await put(server.url, 'bad-deadline', value), 400, 'INVALID_PARAMETER');
    expect(error.message).toContain('Mantis-Deadline-Ms');
    expect((await fetch(kvUrl(server.url, 'bad-deadline'))).status).toBe(404);
  });

  it('answers a budget of 0 with 504 DEADLINE_EXCEEDED from the router, and does not write', async () => {
    const error = await expectError(await put(server.url, 'zero-budget', '0'), 504, 'DEADLINE_EXCEEDED');
    expect(error.retryable).toBe(false);
    expect((await fetch(kvUrl(server.url, 'zero-budget'))).status).toBe(404);
  });

  it('answers 504 DEADLINE_EXCEEDED when the shard starts the write too late, and the write did not happen', async () => {
    const refusedBefore = (await scrape(server.url)).value('mantis_shard_deadline_exceeded_total');
    const started = performance.now();
    const error = await expectError(await put(server.url, 'late-shard', String(SHORT_BUDGET_MS)), 504, 'DEADLINE_EXCEEDED');
    expect((await scrape(server.url)).value('mantis_shard_deadline_exceeded_total'), 'counted by the shard').toBe(refusedBefore + 1);
    expect(error.message).toContain('shard');
    // The shard answered after its delay, i.e. it was the shard that refused it.
    expect(performance.now() - started).toBeGreaterThanOrEqual(SHARD_DELAY_MS - 5);
    expect((await fetch(kvUrl(server.url, 'late-shard'))).status).toBe(404);
  });

  it('refuses a late batch and list the same way, applying nothing', async () => {
    const ops = [{ op: 'put', key: 'batch-a', value: 'a' }, { op: 'put', key: 'batch-b', value: 'b' }];
    const batch = await fetch(`${server.url}/api/v1/kv/batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Mantis-Deadline-Ms': String(SHORT_BUDGET_MS) },
      body: JSON.stringify({ ops }),
    });
    await expectError(batch, 504, 'DEADLINE_EXCEEDED');
    for (const key of ['batch-a', 'batch-b']) expect((await fetch(kvUrl(server.url, key))).status).toBe(404);
    const list = await fetch(`${server.url}/api/v1/kv?prefix=batch-`, { headers: { 'Mantis-Deadline-Ms': String(SHORT_BUDGET_MS) } });
    await expectError(list, 504, 'DEADLINE_EXCEEDED');
  });

  it('serves a request whose budget outlasts the delay, and one without the header', async () => {
    await expectOk(await put(server.url, 'in-time', String(SHARD_DELAY_MS * 20)));
    await expectOk(await put(server.url, 'no-deadline', null));
    const got = await fetch(kvUrl(server.url, 'in-time'), { headers: { 'Mantis-Deadline-Ms': String(SHARD_DELAY_MS * 20) } });
    expect(got.status).toBe(200);
    expect(await got.text()).toBe('value of in-time');
  });
});
