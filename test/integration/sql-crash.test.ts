// SQL write statements are atomic across a process death. An INSERT … SELECT,
// UPDATE or DELETE sent without Mantis-Txn runs in an implicit transaction
// that commits by two-phase commit when its rows live on both shards (a real
// server process, 2 shards, --fsync always; a 10,000-row source table loaded
// through the table route). The server dies while such a statement runs and
// is restarted on the same data dir:
//   (a) MANTIS_FAULT_TXN: the process SIGKILLs itself at a point of the
//       statement's commit (after-prepare: no decision logged, presumed abort →
//       none of it; after-decision, after-first-commit: the decision is durable
//       → all of it). INSERT … SELECT at every point (at after-first-commit with
//       10,000 rows, the statement limit), UPDATE and DELETE of rows in column
//       segments (delete marks) at after-first-commit;
//   (b) kill -9 at a random moment while an INSERT … SELECT, an UPDATE and a
//       DELETE (three tables) run together, five rounds, the moments spread
//       over the statements' duration.
// After each restart every target table is exactly as before its statement
// or exactly as after it — row count, distinct ids, sum(id), sum(v), rows
// changed, rows equal to their source row (a join) — never in between; a
// statement answered 200 before the kill is all there. Then nothing stays held
// by the dead transaction: a lost statement goes through again on the same
// keys; a kept one has every row it touched written once more.

import { afterAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitForExit } from '../helpers/txn-bank-support.js';

afterAll(cleanup);

const SHARDS = 2;
const SOURCE_ROWS = 10_000;
/** Source rows: id 1…10000, v = 7·id + 3 (a changed v shows per row), g = id mod 10. */
const source = Array.from({ length: SOURCE_ROWS }, (_v, i) => ({ id: i + 1, v: 7 * (i + 1) + 3, g: (i + 1) % 10 }));
type SourceRow = (typeof source)[number];

/** A filled target: the source rows with g < 4 (4,000 rows, on both shards). */
const FILLED = source.filter((r) => r.g < 4);
/** The UPDATE: the filled rows with g < 2 (2,000) get v + UPDATE_BY. */
const UPDATED = FILLED.filter((r) => r.g < 2);
const UPDATE_BY = 1000;
/** The DELETE: the filled rows with g >= 2 (2,000). */
const DELETED = FILLED.filter((r) => r.g >= 2);

type Cell = number | string | boolean | null;
type State = (number | null)[];
type Outcome = 'none' | 'all';

const sum = (rows: readonly SourceRow[], f: (r: SourceRow) => number): number => rows.reduce((a, r) => a + f(r), 0);

/** The state() of a table holding exactly `rows`, those with g < 2 updated when `updated`. */
function stateOf(rows: readonly SourceRow[], updated = false): State {
  if (rows.length === 0) return [0, 0, null, null, null, null, 0];
  const bumped = updated ? rows.filter((r) => r.g < 2).length : 0;
  return [rows.length, rows.length, sum(rows, (r) => r.id), sum(rows, (r) => r.v) + UPDATE_BY * bumped, bumped, bumped, rows.length - bumped];
}

const EMPTY = stateOf([]);
const FULL = stateOf(FILLED);
const FULL_UPDATED = stateOf(FILLED, true);
const FULL_DELETED = stateOf(FILLED.filter((r) => r.g < 2));

// ---- HTTP --------------------------------------------------------------------------

async function post(url: string, query: string, signal?: AbortSignal): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/api/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }), signal });
  return { status: response.status, text: await response.text() };
}

/** One statement that must succeed: its rows and row_count. */
async function sql(url: string, query: string): Promise<{ rows: Cell[][]; rowCount: number }> {
  const { status, text } = await post(url, query);
  expect(status, `${query}\n→ ${text.slice(0, 500)}`).toBe(200);
  const body = JSON.parse(text) as { success: boolean; data: { rows: Cell[][]; row_count: number } };
  expect(body.success).toBe(true);
  return { rows: body.data.rows, rowCount: body.data.row_count };
}

let moverConflicts = 0;
/**
 * A write after a restart: the restarted server's mover moves the idle deltas into segments (and
 * compacts), and a transaction whose rows or segments it rewrote after the snapshot is refused
 * TXN_CONFLICT (40001, reason "write" or "read": first committer wins, as src/tables/table-txn.ts
 * documents) and is sent again, up to 5 times. A key still held by the dead transaction would be
 * refused with reason "locked": that is not retried.
 */
async function write(url: string, query: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const { status, text } = await post(url, query);
    if (status === 409 && attempt < 6 && /"sqlstate":"40001"/.test(text) && /"reason":"(write|read)"/.test(text)) {
      moverConflicts++;
      await new Promise((done) => setTimeout(done, 100 * attempt));
      continue;
    }
    expect(status, `${query}\n→ ${text.slice(0, 500)}`).toBe(200);
    return (JSON.parse(text) as { data: { row_count: number } }).data.row_count;
  }
}

type Answer = { readonly answered: true; readonly rowCount: number } | { readonly answered: false; readonly why: string };

/** A statement the server may die during: answered 200, or not (an error answer, or the connection gone). */
async function attempt(url: string, query: string): Promise<Answer> {
  try {
    const { status, text } = await post(url, query, AbortSignal.timeout(30_000));
    if (status !== 200) return { answered: false, why: `HTTP ${status} ${text.slice(0, 300)}` };
    return { answered: true, rowCount: (JSON.parse(text) as { data: { row_count: number } }).data.row_count };
  } catch (error) {
    return { answered: false, why: error instanceof Error ? error.message : String(error) };
  }
}

const num = (c: Cell): number | null => (c === null ? null : Number(c));

/**
 * A target's state in one row: rows, distinct ids, sum(id), sum(v), rows whose v is not the
 * source's, rows with g < 2 whose v is the source's + UPDATE_BY, and rows equal to a source row in
 * every column (a join on all three).
 */
async function state(url: string, t: string): Promise<State> {
  const [own] = (
    await sql(
      url,
      `SELECT count(*), count(DISTINCT id), sum(id), sum(v), sum(CASE WHEN v = 7 * id + 3 THEN 0 ELSE 1 END), ` +
        `sum(CASE WHEN g < 2 AND v = 7 * id + ${3 + UPDATE_BY} THEN 1 ELSE 0 END) FROM ${t}`,
    )
  ).rows;
  const [matched] = (await sql(url, `SELECT count(*) FROM ${t} x JOIN src s ON x.id = s.id AND x.v = s.v AND x.g = s.g`)).rows;
  return [...own, ...matched].map(num);
}

type Stats = { rows: number; delta_rows: number; shards: { shard: number; rows: number }[] };

async function tableStats(url: string, t: string): Promise<Stats> {
  const response = await fetch(`${url}/api/v1/tables/${t}/stats`);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return (JSON.parse(text) as { data: Stats }).data;
}

/** Moves the table's delta into column segments (an UPDATE or DELETE then writes delete marks). */
async function move(url: string, t: string): Promise<void> {
  const response = await fetch(`${url}/api/v1/tables/${t}/move`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(response.status, await response.text()).toBe(200);
  expect((await tableStats(url, t)).delta_rows).toBe(0);
}

/** Two-phase commits so far (the server's counter). */
async function twoPhaseCommits(url: string): Promise<number> {
  const text = await (await fetch(`${url}/api/metrics/prometheus`)).text();
  const line = /^mantis_txn_commits_total\{path="two_phase"\} (\d+)$/m.exec(text);
  return line === null ? 0 : Number(line[1]);
}

// ---- the statements ------------------------------------------------------------------

/** One kind of statement killed: its target's setup, the statement, the states before and after it. */
type Kind = {
  readonly label: string;
  readonly statement: (t: string) => string;
  readonly affected: number;
  readonly before: State;
  readonly after: State;
  /** With the statement done: writes every row it touched once more, and checks the table. */
  readonly rewrite: (url: string, t: string) => Promise<void>;
};

const FILL = (t: string): string => `INSERT INTO ${t} SELECT id, v, g FROM src WHERE g < 4`;
const UPDATE = (t: string, by: number): string => `UPDATE ${t} SET v = v + ${by} WHERE g < 2`;

const KINDS = {
  /** Every source row: the 10,000 rows one statement may write (LIMITS.txn_writes_max). */
  insertAll: {
    label: 'INSERT … SELECT of 10,000 rows',
    statement: (t) => `INSERT INTO ${t} SELECT id, v, g FROM src WHERE v > 0`,
    affected: SOURCE_ROWS,
    before: EMPTY,
    after: stateOf(source),
    rewrite: async (url, t) => {
      expect(await write(url, UPDATE(t, UPDATE_BY))).toBe(source.filter((r) => r.g < 2).length);
      expect(await state(url, t)).toEqual(stateOf(source, true));
    },
  },
  insert: {
    label: 'INSERT … SELECT',
    statement: FILL,
    affected: FILLED.length,
    before: EMPTY,
    after: FULL,
    rewrite: async (url, t) => {
      expect(await write(url, UPDATE(t, UPDATE_BY))).toBe(UPDATED.length);
      expect(await state(url, t)).toEqual(FULL_UPDATED);
    },
  },
  update: {
    label: 'UPDATE',
    statement: (t) => UPDATE(t, UPDATE_BY),
    affected: UPDATED.length,
    before: FULL,
    after: FULL_UPDATED,
    rewrite: async (url, t) => {
      expect(await write(url, UPDATE(t, -UPDATE_BY))).toBe(UPDATED.length);
      expect(await state(url, t)).toEqual(FULL);
    },
  },
  delete: {
    label: 'DELETE',
    statement: (t) => `DELETE FROM ${t} WHERE g >= 2`,
    affected: DELETED.length,
    before: FULL,
    after: FULL_DELETED,
    rewrite: async (url, t) => {
      expect(await write(url, `INSERT INTO ${t} SELECT id, v, g FROM src WHERE g >= 2 AND g < 4`)).toBe(DELETED.length);
      expect(await state(url, t)).toEqual(FULL);
    },
  },
} satisfies Record<string, Kind>;

/** The source table, loaded through the table route (plain writes, no transaction): both shards hold rows. */
async function createSource(url: string): Promise<void> {
  await sql(url, 'CREATE TABLE src (id bigint PRIMARY KEY, v bigint NOT NULL, g int NOT NULL)');
  const response = await fetch(`${url}/api/v1/tables/src/rows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: source }) });
  expect(response.status, await response.text()).toBe(200);
  const stats = await tableStats(url, 'src');
  expect(stats.rows).toBe(SOURCE_ROWS);
  expect(stats.shards.map((s) => s.rows).every((n) => n > SOURCE_ROWS / 4), JSON.stringify(stats.shards)).toBe(true);
}

/** A target as it is before a statement of `kind`: empty (insert), or filled and moved into segments. */
async function prepare(url: string, kind: Kind, t: string): Promise<void> {
  await sql(url, `CREATE TABLE ${t} (id bigint PRIMARY KEY, v bigint NOT NULL, g int NOT NULL)`);
  if (kind.before === FULL) {
    expect((await sql(url, FILL(t))).rowCount).toBe(FILLED.length);
    await move(url, t);
  }
  expect(await state(url, t)).toEqual(kind.before);
}

/** After a restart: the target as before or as after the statement, nothing between; then its rows written again. */
async function checkAllOrNothing(url: string, kind: Kind, t: string, answered: boolean): Promise<Outcome> {
  const found = await state(url, t);
  // A statement answered before the kill was committed durably (--fsync always).
  expect(answered ? [kind.after] : [kind.before, kind.after], `${kind.label} on ${t}: the table after the restart`).toContainEqual(found);
  const outcome: Outcome = JSON.stringify(found) === JSON.stringify(kind.after) ? 'all' : 'none';
  if (outcome === 'none') {
    // Nothing of it is held: the same statement goes through now, on the same keys.
    expect(await write(url, kind.statement(t))).toBe(kind.affected);
    expect(await state(url, t)).toEqual(kind.after);
  } else {
    await kind.rewrite(url, t);
  }
  return outcome;
}

function restart(server: ServerProcess, env?: Record<string, string>): Promise<ServerProcess> {
  return startServer({ shards: SHARDS, fsync: 'always', dataDir: server.dataDir, ...(env === undefined ? {} : { env }) });
}

// ---- the tests ---------------------------------------------------------------------------

type KindName = keyof typeof KINDS;

describe('SQL statements killed at a point of their two-phase commit (MANTIS_FAULT_TXN)', () => {
  // The 10,000-row statement (the limit) where one shard has applied the decision and the other
  // holds a PREPARE of ~5,000 rows it must replay and resolve; the other points with 4,000 rows.
  const cases: [string, string, Outcome, KindName][] = (
    [
      ['insert', 'after-prepare', 'none'],
      ['insert', 'after-decision', 'all'],
      ['insertAll', 'after-first-commit', 'all'],
      ['update', 'after-first-commit', 'all'],
      ['delete', 'after-first-commit', 'all'],
    ] as const
  ).map(([name, point, outcome]) => [KINDS[name].label, point, outcome, name]);

  it.each(cases)('%s killed %s: %s of it after the restart', async (_label, point, expected, name) => {
    const kind: Kind = KINDS[name];
    // Filling the target is a two-phase commit of its own: the statement's is the next one.
    const setupCommits = kind.before === FULL ? 1 : 0;
    const server = await startServer({ shards: SHARDS, fsync: 'always', env: { MANTIS_FAULT_TXN: `${point}@${setupCommits + 1}` } });
    const t = `target_${name}`;
    await createSource(server.url);
    await prepare(server.url, kind, t);
    expect(await twoPhaseCommits(server.url)).toBe(setupCommits);

    const answer = await attempt(server.url, kind.statement(t));
    expect(answer.answered, 'the statement was answered: the fault did not fire in its commit').toBe(false);
    // the process killed itself (nobody else sent it a signal)
    expect(await waitForExit(server.proc, 15_000)).toEqual({ code: null, signal: 'SIGKILL' });

    const again = await restart(server);
    try {
      expect(await state(again.url, t)).toEqual(expected === 'all' ? kind.after : kind.before);
      expect(await checkAllOrNothing(again.url, kind, t, false)).toBe(expected);
      // the source was only read
      expect((await sql(again.url, 'SELECT count(*), sum(v) FROM src')).rows[0].map(num)).toEqual([SOURCE_ROWS, sum(source, (r) => r.v)]);
    } finally {
      await again.kill9();
    }
  });
});

describe('SQL statements killed by kill -9 at a random moment', () => {
  const ROUNDS = 5;

  it('INSERT … SELECT, UPDATE and DELETE across both shards, killed while they run together: each all or nothing', async () => {
    const kinds: [KindName, Kind][] = (['insert', 'update', 'delete'] as const).map((name) => [name, KINDS[name]]);
    let server = await startServer({ shards: SHARDS, fsync: 'always' });
    await createSource(server.url);
    // Each kind's statement, uninterrupted, commits by two-phase commit; how long the three take
    // together on a server just started (as in the rounds, each right after a restart).
    const calibrate = kinds.map(([name]) => `calibrate_${name}`);
    for (const [i, [, kind]] of kinds.entries()) await prepare(server.url, kind, calibrate[i]);
    const commitsBefore = await twoPhaseCommits(server.url);
    const started = performance.now();
    const calibration = await Promise.all(kinds.map(([, kind], i) => sql(server.url, kind.statement(calibrate[i]))));
    const calibratedMs = performance.now() - started;
    let durationMs = calibratedMs;
    expect(calibration.map((r) => r.rowCount)).toEqual(kinds.map(([, kind]) => kind.affected));
    expect(await twoPhaseCommits(server.url)).toBe(commitsBefore + kinds.length);
    for (const [i, [, kind]] of kinds.entries()) {
      expect(await state(server.url, calibrate[i])).toEqual(kind.after);
      await sql(server.url, `DROP TABLE ${calibrate[i]}`);
    }

    const log: string[] = [];
    let unanswered = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const targets = kinds.map(([name]) => `target_${name}_${round}`);
        for (const [i, [, kind]] of kinds.entries()) await prepare(server.url, kind, targets[i]);
        // Round r kills in the r-th slice of [3 ms, 1.1 × the calibrated duration]: the last slices
        // reach the commits, the very last may come after the answers.
        const delayMs = Math.round(3 + (1.1 * durationMs * (round + Math.random())) / ROUNDS);
        const running = Promise.all(kinds.map(([, kind], i) => attempt(server.url, kind.statement(targets[i]))));
        await new Promise((done) => setTimeout(done, delayMs));
        await server.kill9();
        const answers = await running;

        server = await restart(server);
        const outcomes: string[] = [];
        for (const [i, [name, kind]] of kinds.entries()) {
          const answer = answers[i];
          if (answer.answered) expect(answer.rowCount).toBe(kind.affected);
          else unanswered++;
          const outcome = await checkAllOrNothing(server.url, kind, targets[i], answer.answered);
          outcomes.push(`${name}:${answer.answered ? 'answered' : 'unanswered'}→${outcome}`);
          await sql(server.url, `DROP TABLE ${targets[i]}`);
        }
        log.push(`${delayMs}ms [${outcomes.join(' ')}]`);
        // All three done before the kill: they run faster than calibrated; the later slices shrink.
        if (answers.every((a) => a.answered)) durationMs = Math.min(durationMs, delayMs);
      }
    } finally {
      console.log(`[sql-crash] the three statements took ${Math.round(calibratedMs)} ms uninterrupted; kills: ${log.join(', ')}; writes retried after a mover conflict: ${moverConflicts}`);
      await server.kill9();
    }
    // Kills landed while the statements ran (else this proved little about atomicity).
    expect(unanswered, log.join(', ')).toBeGreaterThanOrEqual(ROUNDS);
    // Five kill-and-restart rounds: about 18 s alone, past 60 s on a loaded 2-core machine.
  }, 180_000);
});
