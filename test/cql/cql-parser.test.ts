// The CQL lexer and parser: Cassandra documentation statements parse into the
// expected trees; malformed ones are SyntaxException with a line:column.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import type { CreateTable, Insert, Select, Update, Delete, Batch, CreateIndex } from '../../src/cql/cql-ast.js';
import { tokenize } from '../../src/cql/cql-lexer.js';
import { parseCql } from '../../src/cql/cql-parser.js';

function errorOf(fn: () => unknown): MantisError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MantisError) return error;
    throw error;
  }
  throw new Error('expected a MantisError');
}

describe('cql lexer', () => {
  it('reads literals the way Cassandra does', () => {
    const kinds = tokenize(`'it''s' $$a'b$$ "Quoted""Name" -12 3.5 1e3 2. 0xCAFE e7ae5cf3-d358-4d99-b900-85902fda9bb0 ? :name true`).map((t) => [t.kind, t.text]);
    expect(kinds).toEqual([
      ['string', "it's"],
      ['string', "a'b"],
      ['quoted', 'Quoted"Name'],
      ['integer', '-12'],
      ['float', '3.5'],
      ['float', '1e3'],
      ['float', '2.'],
      ['hex', '0xCAFE'],
      ['uuid', 'e7ae5cf3-d358-4d99-b900-85902fda9bb0'],
      ['qmark', '?'],
      ['named', 'name'],
      ['word', 'true'],
      ['eof', '<EOF>'],
    ]);
  });

  it('skips the three comment forms and counts lines', () => {
    const toks = tokenize('-- one\nSELECT /* two\nthree */ x // four\nFROM t');
    expect(toks.map((t) => t.text)).toEqual(['SELECT', 'x', 'FROM', 't', '<EOF>']);
    expect(toks[0].pos).toEqual({ line: 2, col: 0 });
    expect(toks[2].pos).toEqual({ line: 4, col: 0 });
  });

  it('refuses stray characters and unterminated strings as SyntaxException', () => {
    expect(errorOf(() => tokenize('SELECT @ FROM t')).code).toBe('SyntaxException');
    expect(errorOf(() => tokenize('SELECT @ FROM t')).message).toBe("line 1:7 no viable alternative at character '@'");
    expect(errorOf(() => tokenize("INSERT INTO t (a) VALUES ('x")).code).toBe('SyntaxException');
  });
});

describe('cql parser: CREATE TABLE', () => {
  it('inline PRIMARY KEY (cyclist_name)', () => {
    const { statement } = parseCql('CREATE TABLE cycling.cyclist_name ( id UUID PRIMARY KEY, lastname text, firstname text );');
    const s = statement as CreateTable;
    expect(s.kind).toBe('create-table');
    expect(s.table).toEqual({ keyspace: 'cycling', name: 'cyclist_name' });
    expect(s.columns.map((c) => [c.name, c.type.name])).toEqual([
      ['id', 'uuid'],
      ['lastname', 'text'],
      ['firstname', 'text'],
    ]);
    expect(s.partitionKey).toEqual(['id']);
    expect(s.clustering).toEqual([]);
    expect(s.primaryKeyDecls).toBe(1);
  });

  it('composite partition key, clustering order and options (rank_by_year_and_name, calendar)', () => {
    const a = parseCql(
      'CREATE TABLE IF NOT EXISTS cycling.rank_by_year_and_name ( race_year int, race_name text, cyclist_name text, rank int, PRIMARY KEY ((race_year, race_name), rank) );',
    ).statement as CreateTable;
    expect(a.ifNotExists).toBe(true);
    expect(a.partitionKey).toEqual(['race_year', 'race_name']);
    expect(a.clustering).toEqual(['rank']);
    const b = parseCql(`CREATE TABLE cycling.calendar (
        race_id int, race_name text, race_start_date timestamp, race_end_date timestamp,
        PRIMARY KEY (race_id, race_start_date, race_end_date)
      ) WITH CLUSTERING ORDER BY (race_start_date DESC, race_end_date DESC)
        AND default_time_to_live = 86400 AND comment = 'races' AND compaction = { 'class' : 'LeveledCompactionStrategy' };`).statement as CreateTable;
    expect(b.partitionKey).toEqual(['race_id']);
    expect(b.clustering).toEqual(['race_start_date', 'race_end_date']);
    expect(b.clusteringOrder).toEqual([
      { column: 'race_start_date', desc: true },
      { column: 'race_end_date', desc: true },
    ]);
    expect(b.options.get('default_time_to_live')).toBe(86400);
    expect(b.options.get('comment')).toBe('races');
    expect(b.options.get('compaction')).toEqual({ class: 'LeveledCompactionStrategy' });
  });

  it('keeps quoted names as written and lower-cases the rest', () => {
    const s = parseCql('CREATE TABLE "MyTable" ("Id" int PRIMARY KEY, Name TEXT)').statement as CreateTable;
    expect(s.table.name).toBe('MyTable');
    expect(s.columns.map((c) => c.name)).toEqual(['Id', 'name']);
  });

  it('parses collection types (the executor refuses them) and counts PRIMARY KEY declarations', () => {
    const s = parseCql('CREATE TABLE t (id int PRIMARY KEY, tags set<text>, m map<text, frozen<list<int>>>, PRIMARY KEY (id))').statement as CreateTable;
    expect(s.columns[1].type).toMatchObject({ name: 'set', params: [{ name: 'text' }] });
    expect(s.primaryKeyDecls).toBe(2);
  });

  it('refuses reserved words as names', () => {
    const e = errorOf(() => parseCql('CREATE TABLE select (id int PRIMARY KEY)'));
    expect(e.code).toBe('SyntaxException');
    expect(e.message).toMatch(/^line 1:13 /);
  });
});

describe('cql parser: writes', () => {
  it('INSERT with IF NOT EXISTS and USING TTL, functions and bind markers', () => {
    const s = parseCql("INSERT INTO cycling.cyclist_name (id, lastname, firstname) VALUES (uuid(), 'KRUIKSWIJK', ?) IF NOT EXISTS USING TTL 86400;");
    const ins = s.statement as Insert;
    expect(ins.columns).toEqual(['id', 'lastname', 'firstname']);
    expect(ins.values[0]).toMatchObject({ kind: 'call', name: 'uuid', args: [] });
    expect(ins.values[1]).toMatchObject({ kind: 'literal', type: 'string', text: 'KRUIKSWIJK' });
    expect(ins.values[2]).toMatchObject({ kind: 'bind', index: 0 });
    expect(ins.ifNotExists).toBe(true);
    expect(ins.using.ttl).toMatchObject({ kind: 'literal', text: '86400' });
    expect(s.binds).toEqual([null]);
  });

  it('INSERT … JSON with DEFAULT UNSET, IF NOT EXISTS and TTL', () => {
    const ins = parseCql(`INSERT INTO cycling.cyclist_category JSON '{"category": "GC", "points": 780}' DEFAULT UNSET IF NOT EXISTS USING TTL 5`).statement as Insert;
    expect(ins.json).toMatchObject({ value: { kind: 'literal', type: 'string', text: '{"category": "GC", "points": 780}' }, defaultNull: false });
    expect([ins.columns, ins.ifNotExists, ins.using.ttl?.kind]).toEqual([[], true, 'literal']);
    expect((parseCql('INSERT INTO t JSON ?').statement as Insert).json).toMatchObject({ value: { kind: 'bind' }, defaultNull: true });
    expect(errorOf(() => parseCql('INSERT INTO t JSON 5')).code).toBe('SyntaxException');
  });

  it('UPDATE with TTL, SET list, WHERE and IF conditions; named markers', () => {
    const s = parseCql('UPDATE cycling.cyclist_name USING TTL :t SET firstname = :f, lastname = \'X\' WHERE id = :id IF firstname = \'Y\' AND lastname != null');
    const u = s.statement as Update;
    expect(u.set.map((a) => a.column)).toEqual(['firstname', 'lastname']);
    expect(u.where).toMatchObject([{ column: 'id', op: '=' }]);
    expect(u.conditions.map((c) => [c.column, c.op])).toEqual([
      ['firstname', '='],
      ['lastname', '!='],
    ]);
    expect(s.binds).toEqual(['t', 'f', 'id']);
    expect((parseCql('UPDATE t SET a = 1 WHERE k = 1 IF EXISTS').statement as Update).ifExists).toBe(true);
  });

  it('DELETE rows, columns, ranges', () => {
    const a = parseCql('DELETE FROM cycling.calendar WHERE race_id = 200 AND race_start_date >= \'2015-01-01\'').statement as Delete;
    expect(a.columns).toEqual([]);
    expect(a.where.map((r) => r.op)).toEqual(['=', '>=']);
    const b = parseCql('DELETE firstname, lastname FROM cyclist_name WHERE id IN (e7ae5cf3-d358-4d99-b900-85902fda9bb0, ?) IF EXISTS').statement as Delete;
    expect(b.columns).toEqual(['firstname', 'lastname']);
    expect(b.where[0].op).toBe('IN');
    expect((b.where[0].value as unknown[]).length).toBe(2);
    expect(b.ifExists).toBe(true);
  });

  it('BATCH of writes', () => {
    const s = parseCql(`BEGIN BATCH
        INSERT INTO cycling.cyclist_expenses (cyclist_name, balance) VALUES ('Vera ADRIAN', 0) IF NOT EXISTS;
        INSERT INTO cycling.cyclist_expenses (cyclist_name, expense_id, amount) VALUES ('Vera ADRIAN', 1, 7.95);
        UPDATE cycling.cyclist_expenses SET amount = 8 WHERE cyclist_name = 'Vera ADRIAN' AND expense_id = 1;
        DELETE FROM cycling.cyclist_expenses WHERE cyclist_name = ?
      APPLY BATCH;`);
    const b = s.statement as Batch;
    expect(b.type).toBe('logged');
    expect(b.statements.map((x) => x.kind)).toEqual(['insert', 'insert', 'update', 'delete']);
    expect(s.binds).toEqual([null]);
    expect((parseCql('BEGIN UNLOGGED BATCH APPLY BATCH').statement as Batch).type).toBe('unlogged');
    const e = errorOf(() => parseCql('BEGIN BATCH SELECT * FROM t; APPLY BATCH'));
    expect(e.code).toBe('SyntaxException');
  });

  it('refuses counter and collection updates as Invalid', () => {
    expect(errorOf(() => parseCql('UPDATE t SET c = c + 1 WHERE k = 1')).code).toBe('Invalid');
    expect(errorOf(() => parseCql("UPDATE t SET m['a'] = 1 WHERE k = 1")).code).toBe('Invalid');
    expect(errorOf(() => parseCql('INSERT INTO t (k, l) VALUES (1, [1, 2])')).code).toBe('Invalid');
  });
});

describe('cql parser: SELECT', () => {
  it('columns, aggregates, aliases, clauses', () => {
    const s = parseCql(
      'SELECT race_name, rank AS r, COUNT(*), max(rank), sum(rank) AS total FROM cycling.rank_by_year_and_name WHERE race_year = 2015 AND race_name IN (?, ?) AND rank >= 1 AND rank < 3 ORDER BY rank DESC LIMIT 10 ALLOW FILTERING',
    ).statement as Select;
    expect(s.selectors).toMatchObject([
      { kind: 'column', column: 'race_name', alias: null },
      { kind: 'column', column: 'rank', alias: 'r' },
      { kind: 'count-star' },
      { kind: 'aggregate', fn: 'max', column: 'rank' },
      { kind: 'aggregate', fn: 'sum', column: 'rank', alias: 'total' },
    ]);
    expect(s.where.map((r) => [r.column, r.op])).toEqual([
      ['race_year', '='],
      ['race_name', 'IN'],
      ['rank', '>='],
      ['rank', '<'],
    ]);
    expect(s.orderBy).toMatchObject([{ column: 'rank', desc: true }]);
    expect(s.limit).toMatchObject({ text: '10' });
    expect(s.allowFiltering).toBe(true);
  });

  it('SELECT * without WHERE; count(1); IN ?; IS NOT NULL; json/distinct as column names', () => {
    const a = parseCql('select * from t').statement as Select;
    expect(a.selectors).toBeNull();
    expect(a.where).toEqual([]);
    expect((parseCql('SELECT count(1) FROM t').statement as Select).selectors).toMatchObject([{ kind: 'count-star' }]);
    const c = parseCql('SELECT * FROM t WHERE k IN ? AND v IS NOT NULL').statement as Select;
    expect(c.where[0].value).toMatchObject({ kind: 'bind' });
    expect(c.where[1].op).toBe('IS NOT');
    const d = parseCql('SELECT json, distinct FROM t').statement as Select;
    expect(d.json).toBe(false);
    expect(d.selectors).toMatchObject([{ column: 'json' }, { column: 'distinct' }]);
  });

  it('reports ANTLR-like positions for syntax errors', () => {
    expect(errorOf(() => parseCql('SELECT * FORM t')).message).toBe("line 1:9 mismatched input 'FORM' expecting K_FROM");
    expect(errorOf(() => parseCql('SELECT * FROM t WHERE')).message).toBe("line 1:21 no viable alternative at input '<EOF>'");
    expect(errorOf(() => parseCql('SELECT * FROM t LIMIT 1 2')).message).toBe("line 1:24 mismatched input '2' expecting EOF");
    expect(errorOf(() => parseCql('SELEC * FROM t')).code).toBe('SyntaxException');
    expect(errorOf(() => parseCql('')).code).toBe('SyntaxException');
  });

  it('refuses deep nesting as SyntaxException instead of overflowing the stack', () => {
    expect(errorOf(() => parseCql(`INSERT INTO t (k) VALUES (${'f('.repeat(100_000)}${')'.repeat(100_000)})`)).code).toBe('SyntaxException');
    expect(errorOf(() => parseCql(`CREATE TABLE t (k ${'frozen<'.repeat(1000)}int${'>'.repeat(1000)} PRIMARY KEY)`)).code).toBe('SyntaxException');
    expect(parseCql('INSERT INTO t (k) VALUES (toTimestamp(now()))').statement).toMatchObject({ values: [{ kind: 'call', name: 'totimestamp', args: [{ kind: 'call', name: 'now' }] }] });
  });

  it('refuses token() and multi-column relations as Invalid', () => {
    expect(errorOf(() => parseCql('SELECT * FROM t WHERE token(k) > 0')).code).toBe('Invalid');
    expect(errorOf(() => parseCql('SELECT * FROM t WHERE k = 1 AND (a, b) > (1, 2)')).code).toBe('Invalid');
  });
});

describe('cql parser: schema statements', () => {
  it('CREATE INDEX with and without a name; CUSTOM … USING', () => {
    expect(parseCql('CREATE INDEX IF NOT EXISTS rank_idx ON cycling.rank_by_year_and_name (rank)').statement).toMatchObject<Partial<CreateIndex>>({
      kind: 'create-index',
      name: 'rank_idx',
      ifNotExists: true,
      column: 'rank',
    });
    expect(parseCql('CREATE INDEX ON t (v)').statement).toMatchObject({ name: null, column: 'v' });
    expect(parseCql("CREATE CUSTOM INDEX ON t (v) USING 'StorageAttachedIndex'").statement).toMatchObject({ custom: true });
  });

  it('DROP, TRUNCATE, USE, keyspaces, ALTER TABLE ADD', () => {
    expect(parseCql('DROP TABLE IF EXISTS cycling.t').statement).toEqual({ kind: 'drop-table', table: { keyspace: 'cycling', name: 't' }, ifExists: true });
    expect(parseCql('DROP INDEX i').statement).toMatchObject({ kind: 'drop-index', ifExists: false });
    expect(parseCql('TRUNCATE TABLE t').statement).toMatchObject({ kind: 'truncate' });
    expect(parseCql('USE cycling').statement).toEqual({ kind: 'use', keyspace: 'cycling' });
    expect(parseCql("CREATE KEYSPACE IF NOT EXISTS cycling WITH REPLICATION = { 'class' : 'SimpleStrategy', 'replication_factor' : 1 }").statement).toMatchObject({
      kind: 'create-keyspace',
      keyspace: 'cycling',
    });
    expect(parseCql('ALTER TABLE t ADD age int').statement).toMatchObject({ kind: 'alter-table-add', columns: [{ name: 'age' }] });
    expect(errorOf(() => parseCql('ALTER TABLE t DROP age')).code).toBe('Invalid');
  });
});

describe('cql parser: robustness', () => {
  const VOCAB = [
    'SELECT', 'INSERT', 'INTO', 'UPDATE', 'DELETE', 'FROM', 'WHERE', 'AND', 'IN', 'SET', 'VALUES', 'IF', 'NOT', 'EXISTS', 'USING', 'TTL',
    'BEGIN', 'BATCH', 'APPLY', 'CREATE', 'TABLE', 'INDEX', 'ON', 'PRIMARY', 'KEY', 'WITH', 'CLUSTERING', 'ORDER', 'BY', 'DESC', 'LIMIT',
    'ALLOW', 'FILTERING', 'JSON', 'COUNT', 'DROP', 'ks', 't', 'a', 'b', '"Q"', 'int', 'text', 'list', '<', '>', '(', ')', ',', ';', '.',
    '*', '=', '<=', '>=', '!=', '?', ':n', "'s'", '$$x$$', '1', '-2', '3.5', 'NaN', '0xff', 'true', 'null', 'now()', '{', '}', '[', ']',
    'e7ae5cf3-d358-4d99-b900-85902fda9bb0', '--c\n', '/* c */',
  ];

  it('token soup and random text either parse or fail as SyntaxException / Invalid, never otherwise', () => {
    const soup = fc.array(fc.constantFrom(...VOCAB), { maxLength: 40 }).map((words) => words.join(' '));
    fc.assert(
      fc.property(fc.oneof(soup, fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 })), (text) => {
        try {
          parseCql(text);
        } catch (error) {
          if (!(error instanceof MantisError) || (error.code !== 'SyntaxException' && error.code !== 'Invalid')) throw error;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('valid statements survive a round of whitespace and comments between tokens', () => {
    const q = "SELECT a, count(*) FROM ks.t WHERE k = ? AND c IN (1, 2) AND d >= 'x' ORDER BY c DESC LIMIT 10 ALLOW FILTERING";
    const base = parseCql(q).statement;
    const spaced = tokenize(q)
      .filter((t) => t.kind !== 'eof')
      .map((t) => q.slice(t.offset, t.offset + (t.kind === 'string' ? t.text.length + 2 : t.text.length)))
      .join(' /* x */\n -- y\n ');
    expect(JSON.parse(JSON.stringify(parseCql(spaced).statement, (k, v) => (k === 'pos' ? undefined : v)))).toEqual(JSON.parse(JSON.stringify(base, (k, v) => (k === 'pos' ? undefined : v))));
  });
});
