// The SQL editor's text helpers: statements split where the server would end
// them, the read-only test that decides whether a reload re-runs a query, and
// EXPLAIN answers (text and JSON) turned into trees.

import { describe, expect, it } from 'vitest';
import { firstKeyword, isReadOnly, lineColumn, planFromText, planTree, splitStatements } from '../src/sections/sql-text';

describe('splitStatements', () => {
  it('splits on semicolons outside strings, identifiers, dollar quotes and comments', () => {
    const text = "SELECT 'a;b', \"x;y\" FROM t; -- one; two\nINSERT INTO t VALUES ($$c;d$$);\n/* ; */ SELECT 1;;  ";
    expect(splitStatements(text).map((s) => s.text)).toEqual(["SELECT 'a;b', \"x;y\" FROM t", "-- one; two\nINSERT INTO t VALUES ($$c;d$$)", '/* ; */ SELECT 1']);
  });

  it('keeps each statement’s offset in the whole text', () => {
    const text = 'SELECT 1;\n  SELECT 2';
    const [, second] = splitStatements(text);
    expect(second).toEqual({ text: 'SELECT 2', start: 12 });
    expect(text.slice(second.start)).toBe('SELECT 2');
  });

  it('drops statements that are only comments or blank', () => {
    expect(splitStatements('-- nothing\n;  ;')).toEqual([]);
    expect(splitStatements("SELECT 'it''s'")).toEqual([{ text: "SELECT 'it''s'", start: 0 }]);
  });
});

describe('isReadOnly', () => {
  it('accepts reads', () => {
    for (const q of ['SELECT * FROM t', 'with x as (select 1) select * from x', 'EXPLAIN SELECT 1', '(SELECT 1) UNION (SELECT 2)', "SELECT 'delete me' AS note", 'SELECT updated_at FROM t; SELECT 2', '-- a comment\nSELECT 1']) {
      expect(isReadOnly(q), q).toBe(true);
    }
  });

  it('refuses writes, wherever they hide', () => {
    for (const q of ['DELETE FROM t', 'SELECT 1; DROP TABLE t', 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'SELECT * INTO copy FROM t', 'EXPLAIN ANALYZE SELECT 1', 'BEGIN', 'SELECT nextval(1)', '', '-- only a comment']) {
      expect(isReadOnly(q), q).toBe(false);
    }
  });
});

describe('helpers', () => {
  it('finds the first keyword and positions', () => {
    expect(firstKeyword('  /* x */ (select 1)')).toBe('SELECT');
    expect(lineColumn('ab\ncd\nef', 4)).toEqual({ line: 2, column: 2 });
  });
});

describe('EXPLAIN trees', () => {
  it('reads the text layout: nodes under "->", details under their node, timings at the root', () => {
    const lines = [
      'Sort  (cost=0.00..4.06 rows=1 width=24) (actual time=0.000..3.524 rows=2 loops=1)',
      '  Sort Key: count',
      '  ->  Hash Join  (cost=0.00..4.03 rows=3 width=56)',
      '        Hash Cond: (o.customer_id = c.id)',
      '        ->  Shard Scan on customers c  (cost=0.00..1.00 rows=1 width=24)',
      '              Pushed Filter: (id > 0)',
      '        ->  Shard Scan on orders o  (cost=0.00..3.00 rows=3 width=32)',
      'Planning Time: 1.445 ms',
      'Execution Time: 17.031 ms',
    ];
    expect(planFromText(lines)).toEqual({
      node: 'Sort · cost=0.00..4.06 rows=1 width=24 · actual time=0.000..3.524 rows=2 loops=1 · planned in 1.445 ms, ran in 17.031 ms',
      'Sort Key': 'count',
      '→ Hash Join': {
        node: 'cost=0.00..4.03 rows=3 width=56',
        'Hash Cond': '(o.customer_id = c.id)',
        '→ Shard Scan on customers c': { node: 'cost=0.00..1.00 rows=1 width=24', 'Pushed Filter': '(id > 0)' },
        '→ Shard Scan on orders o': { node: 'cost=0.00..3.00 rows=3 width=32' },
      },
      'Planning Time': '1.445 ms',
      'Execution Time': '17.031 ms',
    });
  });

  it('reads FORMAT JSON answers (one JSON cell)', () => {
    const json = [{ Plan: { 'Node Type': 'Project', 'Startup Cost': 0, 'Total Cost': 5.06, 'Plan Rows': 3, 'Plan Width': 8, Plans: [{ 'Node Type': 'Shard Scan on t', 'Startup Cost': 0, 'Total Cost': 2, 'Plan Rows': 2, 'Actual Total Time': 1.5, 'Actual Rows': 2, 'Actual Loops': 1 }] }, 'Planning Time': 0.5 }];
    expect(planTree([[JSON.stringify(json, null, 2)]])).toEqual({
      node: 'Project · cost=0.00..5.06 rows=3 · planned in 0.5 ms',
      '→ Shard Scan on t': { node: 'cost=0.00..2.00 rows=2 · actual 1.500 ms, 2 rows, 1 loop' },
      'Planning Time': '0.5 ms',
    });
  });
});
