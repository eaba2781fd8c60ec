// Small helpers for the client tests: the error a call rejects with, and a
// TCP port that nothing listens on.

import { createServer } from 'node:net';
import { MantisClientError } from '../../src/client/index.js';

/** The MantisClientError a call rejects with; fails the test if it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<MantisClientError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  if (!(error instanceof MantisClientError)) throw new Error(`expected a MantisClientError, got ${String(error)}`);
  return error;
}

/** A port that was free a moment ago (the kernel picks it; there is a small race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
