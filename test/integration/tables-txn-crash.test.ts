// Table rows in a two-phase commit across a process death (MANTIS_FAULT_TXN:
// the server SIGKILLs itself at that point of the commit) on a 2-shard server
// with --fsync always. A transaction inserts rows on both shards, updates one
// row living in a column segment (a delete mark and a delta row) and deletes
// another, and commits; after the restart without the hook:
//   after-prepare       no decision logged: presumed abort, the table as before;
//   after-decision      the decision is durable: every change is there;
//   after-first-commit  one shard applied it: every change is there.
// Each row exactly once, counts agree with the rows, the table engine's state
// follows (a move and a full query again), and a new transaction commits.

import { afterAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { send, tableName, TablesClient, type Json, type JsonRow, type QueryAnswer } from '../helpers/tables-client.js';
import { postBegin, postCommit, type BeginData } from '../helpers/txn-client.js';
import { waitForExit } from '../helpers/txn-bank-support.js';

afterAll(cleanup);

const SHARDS = 2;
const POINTS = ['after-prepare', 'after-decision', 'after-first-commit'] as const;

const W = (col: string, op: string, value: Json): JsonRow => ({ col, op, value });
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function rows(t: TablesClient): Promise<Json[][]> {
  const answer = await t.query({ columns: ['id', 'v'], order_by: ['id'], limit: 10_000 });
  const ids = answer.rows.map((r) => r[0]);
  expect(new Set(ids).size).toBe(ids.length);
  const count = (await t.query({ aggregates: [{ fn: 'count', as: 'n' }] })).rows[0][0];
  expect(count).toBe(answer.rows.length);
  return answer.rows;
}

describe.each(POINTS)('table rows in a two-phase commit, the process killed %s', (point) => {
  it('is all or nothing after the restart', async () => {
    const server: ServerProcess = await startServer({ shards: SHARDS, fsync: 'always', env: { MANTIS_FAULT_TXN: point } });
    const t = new TablesClient(server.url, tableName(`crash_${point.replace(/-/g, '_')}`));
    await t.createOk(
      [
        { name: 'id', type: 'int64' },
        { name: 'v', type: 'int64' },
      ],
      ['id'],
    );
    await t.insertOk(range(0, 20).map((id) => ({ id, v: id })));
    await t.move();
    const before = await rows(t);

    const id = (await expectOk<BeginData>(await postBegin(server.url, { isolation: 'snapshot', timeout_ms: 30_000 }))).data.id;
    const h = { 'Mantis-Txn': id };
    await expectOk(await send(t.url('/rows'), 'POST', { rows: range(100, 110).map((i) => ({ id: i, v: i })) }, h));
    await expectOk(await send(t.url('/update'), 'POST', { where: W('id', 'in', [3, 13]), set: { v: -1 } }, h));
    await expectOk(await send(t.url('/delete'), 'POST', { where: W('id', 'in', [4, 14]) }, h));
    const check = (await expectOk<QueryAnswer>(await send(t.url('/query'), 'POST', { aggregates: [{ fn: 'count', as: 'n' }] }, h))).data.rows[0][0];
    expect(check).toBe(28);
    await postCommit(server.url, id).then((r) => r.text()).catch(() => undefined);
    await waitForExit(server.proc, 15_000);

    const again = await startServer({ shards: SHARDS, fsync: 'always', dataDir: server.dataDir });
    try {
      const t2 = new TablesClient(again.url, t.name);
      const expected =
        point === 'after-prepare'
          ? before
          : [...range(0, 20).filter((i) => i !== 4 && i !== 14), ...range(100, 110)].map((i) => [i, i === 3 || i === 13 ? -1 : i]);
      expect(await rows(t2)).toEqual(expected);
      await t2.move();
      expect(await rows(t2)).toEqual(expected);
      // nothing stays held: a plain write and a new transaction go through
      await expectOk(await send(t2.url('/update'), 'POST', { where: W('id', '=', 5), set: { v: 55 } }));
      // The background mover may rewrite a segment the transaction read (409 TXN_CONFLICT, as a
      // client would see it on a loaded machine): retry, as clients do.
      for (let attempt = 1; ; attempt++) {
        const next = (await expectOk<BeginData>(await postBegin(again.url, { isolation: 'snapshot' }))).data.id;
        await expectOk(await send(t2.url('/delete'), 'POST', { where: W('id', 'in', [6, 16]) }, { 'Mantis-Txn': next }));
        const committed = await postCommit(again.url, next);
        if (committed.status === 409 && attempt < 5) {
          expect(await committed.text()).toContain('TXN_CONFLICT');
          continue;
        }
        await expectOk(committed);
        break;
      }
      const final = await rows(t2);
      expect(final.length).toBe(expected.length - 2);
      expect(final.find((r) => r[0] === 5)?.[1]).toBe(55);
    } finally {
      await again.stop();
    }
  });
});
