// kill -9 during a mover run (a real server process, 2 shards, --fsync
// always): writers insert batches and replace rows while each shard's mover
// turns its delta into a segment. The process dies after a segment file is
// written but before its commit record (MANTIS_FAULT_TABLE_MOVE_CRASH=after-file),
// right after the commit record (after-record), or at a random moment. After
// the restart every acknowledged row is there exactly once with its content (or
// a later replace's that was in flight), no row appears that was never written,
// and once the restarted server's mover has emptied the delta, still so. (An unanswered batch may
// be there in part: each shard's part is atomic, the parts are not together.)

import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { TablesClient, send, tableName, type Json, type JsonRow } from '../helpers/tables-client.js';

const SHARDS = 2;
const WRITERS = 4;
const BATCH = 2_000;

afterAll(async () => {
  await cleanup();
});

type Written = {
  /** Every row sent: id → its x values sent, in order. */
  readonly sent: Map<number, number[]>;
  /** id → x of the last acknowledged write. */
  readonly acked: Map<number, number>;
};

async function tryInsert(c: TablesClient, rows: JsonRow[], onConflict: string): Promise<boolean> {
  try {
    const response = await c.insert(rows, { on_conflict: onConflict });
    await response.text();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** Writers insert new rows (and replace earlier ones) until the server dies or `stopAfterRows` rows are acked. */
async function writeUntilDead(c: TablesClient, stopAfterRows: number, onProgress?: (acked: number) => void): Promise<Written> {
  const written: Written = { sent: new Map(), acked: new Map() };
  let alive = true;
  let nextId = 0;
  const worker = async (w: number): Promise<void> => {
    for (let n = 0; alive && written.acked.size < stopAfterRows; n++) {
      const replace = n % 4 === 3 && nextId > BATCH;
      const rows: { id: number; x: number }[] = [];
      for (let i = 0; i < BATCH; i++) {
        const id = replace ? Math.floor(Math.random() * nextId) : nextId++;
        if (replace && rows.some((r) => r.id === id)) continue;
        rows.push({ id, x: w * 1_000_000 + n * 10 + (i % 10) });
      }
      for (const r of rows) {
        const xs = written.sent.get(r.id) ?? [];
        xs.push(r.x);
        written.sent.set(r.id, xs);
      }
      const ok = await tryInsert(
        c,
        rows.map((r) => ({ id: r.id, g: `g${r.id % 10}`, x: r.x })),
        replace ? 'replace' : 'error',
      );
      if (ok) {
        for (const r of rows) written.acked.set(r.id, r.x);
        onProgress?.(written.acked.size);
      } else {
        alive = false;
      }
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_v, w) => worker(w)));
  return written;
}

/** Every row through every page (no per-row assertions: 100k+ of them would stall the client for seconds). */
async function allRows(c: TablesClient): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  let served = 0;
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await c.query(cursor === null ? { columns: ['id', 'x'], limit: 10_000 } : { columns: ['id', 'x'], limit: 10_000, cursor });
    for (const row of page.rows) out.set(row[0] as number, row[1] as number);
    served += page.rows.length;
    if (page.next_cursor === null) break;
    cursor = page.next_cursor;
  }
  expect(served, 'a row was served twice').toBe(out.size);
  return out;
}

/** Every acked row there once with its acked x (or a later in-flight x); no row that was never written. */
function checkRows(found: Map<number, number>, w: Written): void {
  const problems: string[] = [];
  for (const [id, x] of w.acked) {
    const got = found.get(id);
    if (got === undefined) {
      problems.push(`acked row ${id} lost`);
      continue;
    }
    const xs = w.sent.get(id) as number[];
    // The acked value, or one sent after it (an unanswered replace that was applied).
    if (!xs.slice(xs.indexOf(x)).includes(got)) problems.push(`row ${id}: x ${got}, acked ${x}`);
  }
  for (const id of found.keys()) if (!w.sent.has(id)) problems.push(`row ${id} was never written`);
  expect(problems.slice(0, 20)).toEqual([]);
}

async function createTable(server: ServerProcess): Promise<TablesClient> {
  const c = new TablesClient(server.url, tableName('crash'));
  await c.createOk(
    [
      { name: 'id', type: 'int64', nullable: false },
      { name: 'g', type: 'string', nullable: true },
      { name: 'x', type: 'int64', nullable: true },
    ],
    ['id'],
  );
  return c;
}

async function waitForExit(server: ServerProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function restartAndCheck(server: ServerProcess, c: TablesClient, written: Written): Promise<void> {
  const again = await startServer({ shards: SHARDS, fsync: 'always', dataDir: server.dataDir });
  const c2 = new TablesClient(again.url, c.name);
  try {
    checkRows(await allRows(c2), written);
    // The restarted server's mover (idle delta) moves what is left; every row is still there once.
    const deadline = Date.now() + 120_000;
    let stats = (await c2.stats()) as { rows?: Json; delta_rows?: Json };
    while (stats.delta_rows !== 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      stats = (await c2.stats()) as { rows?: Json; delta_rows?: Json };
    }
    expect(stats.delta_rows, 'the mover did not empty the delta').toBe(0);
    const after = await allRows(c2);
    checkRows(after, written);
    expect(stats.rows).toBe(after.size);
  } catch (error) {
    console.error('restarted server output:', again.proc.exitCode, again.proc.signalCode, again.output().stderr.slice(-4000), again.output().stdout.slice(-2000));
    throw error;
  }
  await again.stop();
}

describe('tables: kill -9 during a mover run', () => {
  for (const fault of ['after-file', 'after-record']) {
    it(`every acknowledged row survives a crash ${fault}`, async () => {
      const server = await startServer({ shards: SHARDS, fsync: 'always', env: { MANTIS_FAULT_TABLE_MOVE_CRASH: fault } });
      const c = await createTable(server);
      // Enough rows that each shard's delta passes a segment's worth: the mover starts and the fault kills.
      const written = await writeUntilDead(c, 400_000);
      expect(await waitForExit(server, 30_000), 'the fault did not fire').toBe(true);
      expect(written.acked.size).toBeGreaterThan(0);
      await restartAndCheck(server, c, written);
    }, 180_000);
  }

  it('every acknowledged row survives kill -9 at a random moment of a move', async () => {
    const server = await startServer({ shards: SHARDS, fsync: 'always' });
    const c = await createTable(server);
    const killAt = 140_000 + Math.floor(Math.random() * 60_000);
    let killing: Promise<void> | null = null;
    const written = await writeUntilDead(c, 1_000_000, (acked) => {
      if (acked >= killAt && killing === null) killing = server.kill9();
    });
    await (killing ?? server.kill9());
    await restartAndCheck(server, c, written);
  }, 180_000);

  it('moves on request: every row still there once, read by key from a segment', async () => {
    const server = await startServer({ shards: SHARDS });
    const c = await createTable(server);
    await c.insertMany(Array.from({ length: 3000 }, (_v, i) => ({ id: i, g: 'a', x: i })));
    await c.move();
    const stats = (await c.stats()) as { delta_rows?: Json; rows?: Json };
    expect(stats).toMatchObject({ delta_rows: 0, rows: 3000 });
    const r = await send(c.url('/rows/7'), 'GET');
    expect(r.status).toBe(200);
    expect((await allRows(c)).size).toBe(3000);
    await server.stop();
  }, 60_000);
});
