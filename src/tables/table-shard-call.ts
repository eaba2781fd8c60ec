// Sending table commands to shards: one command to one shard (a write goes
// through callWrite, which waits out a committing transaction's hold on its
// keys), a refusal turned into a MantisError with its details (column, row),
// and a sliced command (update, delete by filter) repeated from its `resume`
// position until the shard is done.

import { isErrorCode, MantisError } from '../../shared/errors.js';
import { decodeTableAnswer, encodeTableCommand, isWriteCommand, type TableAnswer, type TableCommand } from '../../shared/tables/table-protocol.js';
import type { ShardRequest } from '../../shared/wire.js';
import { callWrite } from '../kv/kv-service.js';
import type { ShardClient } from '../router/index.js';

type OkAnswer = Extract<TableAnswer, { ok: true }>;
export type TableAnswerOf<K extends OkAnswer['op']> = Extract<OkAnswer, { op: K }>;

/** Sends one command; the answer, or the shard's refusal as a MantisError (details kept). */
export async function callTable(shard: ShardClient, command: TableCommand, deadlineMs: number): Promise<OkAnswer> {
  const write = isWriteCommand(command);
  const request: ShardRequest = { kind: 'tbl', write, body: encodeTableCommand(command) };
  const response = write ? await callWrite(shard, request, deadlineMs) : await shard.call(request, deadlineMs);
  if (response.kind === 'error') throw new MantisError(response.code, response.message);
  if (response.kind !== 'tbl-result') throw new Error(`assertion failed: unexpected shard response ${response.kind} to a table command`);
  const answer = decodeTableAnswer(response.body);
  if (!answer.ok) {
    const code = isErrorCode(answer.code) ? answer.code : 'INTERNAL';
    throw new MantisError(code, answer.message, answer.details);
  }
  return answer;
}

/** Sends one command and checks the answer's kind. */
export async function callTableExpect<K extends OkAnswer['op']>(shard: ShardClient, command: TableCommand, deadlineMs: number, op: K): Promise<TableAnswerOf<K>> {
  const answer = await callTable(shard, command, deadlineMs);
  if (answer.op !== op) throw new Error(`assertion failed: shard answered ${answer.op} to ${command.op}, expected ${op}`);
  return answer as TableAnswerOf<K>;
}

type Sliced = Extract<TableCommand, { op: 'update' | 'delete' }>;

/** Runs an update or delete by filter on one shard to its end; the rows it changed. */
export async function runSlicedWrite(shard: ShardClient, command: Sliced, deadlineMs: number): Promise<number> {
  let resume: Uint8Array | null = command.resume;
  let affected = 0;
  for (;;) {
    const answer = await callTableExpect(shard, { ...command, resume }, deadlineMs, command.op);
    affected += answer.affected;
    resume = answer.resume;
    if (resume === null) return affected;
  }
}
