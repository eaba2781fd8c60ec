// Sending document commands to shards: one command to one shard (a write
// goes through callWrite, which waits out a committing transaction's hold on
// its keys), a sliced command repeated from its `resume` position until the
// shard is done, and the same to every shard at once.

import { MantisError } from '../../shared/errors.js';
import { decodeDocAnswer, encodeDocCommand, type DocAnswer, type DocCommand } from '../../shared/docs/doc-protocol.js';
import type { ShardRequest } from '../../shared/wire.js';
import { callWrite } from '../kv/kv-service.js';
import type { ShardClient } from '../router/index.js';

/** How long one slice of a scan may hold a shard. */
export const SLICE_BUDGET_MS = 5;

export type Answer<K extends DocAnswer['op']> = Extract<DocAnswer, { op: K }>;

/** Sends one command; the answer, or the shard's error as a MantisError. */
export async function callDoc(shard: ShardClient, command: DocCommand, write: boolean, deadlineMs: number): Promise<DocAnswer> {
  const request: ShardRequest = { kind: 'doc', write, body: encodeDocCommand(command) };
  const response = write ? await callWrite(shard, request, deadlineMs) : await shard.call(request, deadlineMs);
  if (response.kind === 'doc-result') return decodeDocAnswer(response.body);
  if (response.kind === 'error') throw new MantisError(response.code, response.message);
  throw new Error(`assertion failed: unexpected shard response ${response.kind} to a document command`);
}

/** Sends one command and checks the answer's kind. */
export async function callExpect<K extends DocAnswer['op']>(shard: ShardClient, command: DocCommand, write: boolean, deadlineMs: number, op: K): Promise<Answer<K>> {
  const answer = await callDoc(shard, command, write, deadlineMs);
  if (answer.op !== op) throw new Error(`assertion failed: shard answered ${answer.op} to ${command.op}, expected ${op}`);
  return answer as Answer<K>;
}

type Sliced = Extract<DocCommand, { resume: Uint8Array | null }>;

/**
 * Runs a sliced command on one shard to its end: `each` sees every answer in order; the command is
 * sent again from the answer's resume position until it is null.
 */
export async function runSliced<K extends 'found' | 'updated' | 'deleted' | 'aggregated'>(
  shard: ShardClient,
  command: Sliced,
  write: boolean,
  deadlineMs: number,
  op: K,
  each: (answer: Answer<K>) => void,
): Promise<void> {
  let resume: Uint8Array | null = command.resume;
  for (;;) {
    const answer = await callExpect(shard, { ...command, resume } as DocCommand, write, deadlineMs, op);
    each(answer);
    resume = (answer as { resume: Uint8Array | null }).resume;
    if (resume === null) return;
  }
}
