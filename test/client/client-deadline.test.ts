// Timeout propagation: the client sends what is left of a call's budget as
// Mantis-Deadline-Ms. With the shard made late (MANTIS_FAULT_SHARD_DELAY_MS),
// a write whose budget runs out before the shard starts it is answered 504
// DEADLINE_EXCEEDED by the server and is not applied, and a call cut short on
// the client side (its own timer, or the caller's AbortSignal) is not applied
// either, because the shard saw the same deadline.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MantisClient } from '../../src/client/index.js';
import { rejection } from '../helpers/client-support.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const SHARD_DELAY_MS = 300;
const BUDGET_MS = 60;

let server: ServerProcess;
let probe: MantisClient;

beforeAll(async () => {
  server = await startServer({ shards: 1, env: { MANTIS_FAULT_SHARD_DELAY_MS: String(SHARD_DELAY_MS) } });
  probe = new MantisClient({ url: server.url, timeoutMs: 10_000 });
});

afterAll(async () => {
  await probe?.close();
  await cleanup();
});

describe('deadlines', () => {
  it('gets 504 DEADLINE_EXCEEDED from the server when the shard starts too late, and the write did not happen', async () => {
    // The grace lets the client wait past its budget for the server's verdict.
    const client = new MantisClient({ url: server.url, deadlineGraceMs: 5000 });
    try {
      const error = await rejection(client.put('late', 'never stored', { timeoutMs: BUDGET_MS }));
      expect({ code: error.code, status: error.status, source: error.source, retryable: error.retryable }).toEqual({
        code: 'DEADLINE_EXCEEDED',
        status: 504,
        source: 'server',
        retryable: false,
      });
      expect(error.message).toContain('shard');
      expect(await probe.get('late')).toBeNull();
    } finally {
      await client.close();
    }
  });

  it('gives up locally at the budget without a grace, and the shard still refused the write', async () => {
    const client = new MantisClient({ url: server.url });
    try {
      const error = await rejection(client.put('late-local', 'never stored', { timeoutMs: BUDGET_MS }));
      expect({ code: error.code, status: error.status, source: error.source }).toEqual({ code: 'DEADLINE_EXCEEDED', status: 0, source: 'transport' });
      expect(await probe.get('late-local')).toBeNull();
    } finally {
      await client.close();
    }
  });

  it('stops at the caller\'s AbortSignal with ABORTED, and the shard refused the write once its deadline passed', async () => {
    const client = new MantisClient({ url: server.url, timeoutMs: BUDGET_MS });
    try {
      const controller = new AbortController();
      const call = client.put('aborted', 'never stored', { signal: controller.signal });
      controller.abort();
      const error = await rejection(call);
      expect({ code: error.code, status: error.status }).toEqual({ code: 'ABORTED', status: 0 });
      expect(await probe.get('aborted')).toBeNull();
      const already = await rejection(client.get('x', { signal: AbortSignal.abort() }));
      expect(already.code).toBe('ABORTED');
    } finally {
      await client.close();
    }
  });

  it('applies a write whose budget outlasts the late shard', async () => {
    await probe.put('in-time', 'stored', { timeoutMs: SHARD_DELAY_MS * 10 });
    expect((await probe.get('in-time'))?.value.toString()).toBe('stored');
  });
});
