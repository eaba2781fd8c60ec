// The money invariant over table rows on a real 2-shard server: workers move
// money between random accounts in transactions (read both rows by primary
// key, update both; some transfers delete the source row and insert it again,
// which moves a segment row back to the delta), while the mover turns the
// delta into segments again and again and compactions rewrite the small
// segments, and other transactions read the table at their snapshots. Every
// snapshot's total and count equal the starting ones (a transaction reads one
// consistent state, whatever moves and compactions ran since it began); at the
// end, no account is lost or duplicated, the total holds, and the index on the
// balance answers as a scan does.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { send, tableName, TablesClient, type Json, type JsonRow, type QueryAnswer } from '../helpers/tables-client.js';
import { postBegin, postCommit, postRollback, type BeginData, type Isolation } from '../helpers/txn-client.js';

afterAll(cleanup);

const SHARDS = 2;
const ACCOUNTS = 200;
const START = 1000;
const WORKERS = 4;
const RUN_MS = 12_000;

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

type Answer = { status: number; text: string };

async function call(url: string, method: string, body: unknown, txn: string | null): Promise<Answer> {
  const response = await send(url, method, body, txn === null ? {} : { 'Mantis-Txn': txn });
  return { status: response.status, text: await response.text() };
}

function data<T>(a: Answer): T {
  expect(a.status, a.text).toBe(200);
  return (JSON.parse(a.text) as { data: T }).data;
}

/** An answer a transfer may meet and retry (a conflict, a transaction aborted for its age or by a shard). */
function retryable(a: Answer): boolean {
  return a.status === 409 || a.status === 410;
}

const W = (col: string, op: string, value: Json): JsonRow => ({ col, op, value });

describe('money moved between table rows in transactions, with the mover and compactions running', () => {
  it('keeps every snapshot consistent and the total intact', async () => {
    const t = new TablesClient(server.url, tableName('bank'));
    await t.createOk(
      [
        { name: 'id', type: 'int64' },
        { name: 'owner', type: 'string' },
        { name: 'balance', type: 'int64' },
      ],
      ['id'],
    );
    await expectOk(await t.post('indexes', { name: 'by_balance', columns: ['balance'], type: 'btree' }), 201);
    // Accounts inserted in a few batches, moved between them: several small segments to compact.
    for (let at = 0; at < ACCOUNTS; at += 50) {
      await t.insertOk(Array.from({ length: 50 }, (_, i) => ({ id: at + i, owner: `o${at + i}`, balance: START })));
      await t.move();
    }
    const total = ACCOUNTS * START;
    const stop = Date.now() + RUN_MS;
    let committed = 0;
    let conflicts = 0;
    let snapshots = 0;
    const problems: string[] = [];

    const begin = async (isolation: Isolation): Promise<string> => {
      const r = await postBegin(server.url, { isolation, timeout_ms: 30_000 });
      return data<BeginData>({ status: r.status, text: await r.text() }).id;
    };

    const transfer = async (n: number): Promise<void> => {
      const from = Math.floor(Math.random() * ACCOUNTS);
      let to = Math.floor(Math.random() * (ACCOUNTS - 1));
      if (to >= from) to++;
      const amount = 1 + Math.floor(Math.random() * 50);
      const txn = await begin(n % 5 === 0 ? 'serializable' : 'snapshot');
      const rollback = async (): Promise<void> => {
        await (await postRollback(server.url, txn)).text();
      };
      const get = async (id: number): Promise<JsonRow | null> => {
        const a = await call(t.url(`/rows/${id}`), 'GET', undefined, txn);
        if (a.status === 404) return null;
        if (retryable(a)) return null;
        return data<JsonRow>(a);
      };
      const a = await get(from);
      const b = await get(to);
      if (a === null || b === null) {
        problems.push(`account ${a === null ? from : to} missing in a snapshot`);
        await rollback();
        return;
      }
      let step: Answer;
      if (n % 3 === 0) {
        // delete the source and insert it again with its new balance (a segment row goes back to the delta)
        step = await call(t.url('/delete'), 'POST', { where: W('id', '=', from) }, txn);
        if (step.status === 200) step = await call(t.url('/rows'), 'POST', { rows: [{ ...a, balance: (a.balance as number) - amount }] }, txn);
      } else {
        step = await call(t.url('/update'), 'POST', { where: W('id', '=', from), set: { balance: (a.balance as number) - amount } }, txn);
      }
      if (step.status === 200) step = await call(t.url('/update'), 'POST', { where: W('id', '=', to), set: { balance: (b.balance as number) + amount } }, txn);
      if (step.status !== 200) {
        if (!retryable(step)) problems.push(`transfer step answered ${step.status} ${step.text.slice(0, 200)}`);
        await rollback();
        return;
      }
      const done = await postCommit(server.url, txn);
      const text = await done.text();
      if (done.status === 200) committed++;
      else if (retryable({ status: done.status, text })) conflicts++;
      else problems.push(`commit answered ${done.status} ${text.slice(0, 200)}`);
    };

    const audit = async (): Promise<void> => {
      const txn = await begin('snapshot');
      const q = await call(t.url('/query'), 'POST', { aggregates: [{ fn: 'count', as: 'n' }, { fn: 'sum', column: 'balance', as: 's' }] }, txn);
      await new Promise((r) => setTimeout(r, 50)); // let moves and transfers go on under the snapshot
      const rows = await call(t.url('/query'), 'POST', { columns: ['id', 'balance'], order_by: ['id'], limit: 10_000 }, txn);
      await (await postCommit(server.url, txn)).text();
      if (retryable(q) || retryable(rows)) return;
      const agg = data<QueryAnswer>(q).rows[0];
      const list = data<QueryAnswer>(rows).rows;
      snapshots++;
      if (Number(agg[0]) !== ACCOUNTS || Number(agg[1]) !== total) problems.push(`a snapshot's aggregates: count ${String(agg[0])}, sum ${String(agg[1])}`);
      const sum = list.reduce((s, r) => s + (r[1] as number), 0);
      if (list.length !== ACCOUNTS || sum !== total) problems.push(`a snapshot's rows: ${list.length} rows, sum ${sum}`);
      if (new Set(list.map((r) => r[0])).size !== list.length) problems.push('a snapshot served an account twice');
    };

    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      for (let n = w; Date.now() < stop; n += WORKERS) await transfer(n);
    });
    const mover = (async () => {
      while (Date.now() < stop) {
        await t.move();
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const auditor = (async () => {
      while (Date.now() < stop) await audit();
    })();
    await Promise.all([...workers, mover, auditor]);

    expect(problems.slice(0, 10)).toEqual([]);
    expect(committed).toBeGreaterThan(20);
    expect(snapshots).toBeGreaterThan(5);
    const rows = (await t.query({ columns: ['id', 'balance'], order_by: ['id'], limit: 10_000 })).rows;
    expect(rows.map((r) => r[0])).toEqual(Array.from({ length: ACCOUNTS }, (_, i) => i));
    expect(rows.reduce((s, r) => s + (r[1] as number), 0)).toBe(total);
    await t.move();
    const after = (await t.query({ columns: ['id', 'balance'], order_by: ['id'], limit: 10_000 })).rows;
    expect(after).toEqual(rows);
    for (const where of [W('balance', '>=', START), W('balance', '<', START - 20), W('balance', '=', START)]) {
      const body = { columns: ['id', 'balance'], where, order_by: ['id'], limit: 10_000 };
      expect((await t.query(body)).rows, JSON.stringify(where)).toEqual((await t.query({ ...body, hint: '$scan' })).rows);
    }
    const stats = await t.stats();
    console.log(`tables-txn-bank: ${committed} transfers committed, ${conflicts} conflicts, ${snapshots} audited snapshots, ${String(stats.segments)} segments`);
  });
});
