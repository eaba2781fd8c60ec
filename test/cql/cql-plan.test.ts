// Cassandra's statement rules (cql-plan.ts) on table entries: which SELECTs run without ALLOW
// FILTERING, the exact refusals, ORDER BY, selections, and the keys UPDATE / DELETE address; plus
// the CQL type mapping and literal conversions (cql-types.ts).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import type { ColumnDef, TableIndexDef, TableInfo } from '../../shared/tables/table-types.js';
import type { CqlTerm, Select, Update } from '../../src/cql/cql-ast.js';
import { parseCql } from '../../src/cql/cql-parser.js';
import { checkDeleteRange, cqlTable, fullKeys, planSelect, REQUIRES_ALLOW_FILTERING_MESSAGE, restrictionsOf, starColumns } from '../../src/cql/cql-plan.js';
import { mapCqlType, paramToCell, parseCqlTimestamp, termToCell, timeuuidAt, timeuuidMs } from '../../src/cql/cql-types.js';

function col(name: string, cqlType: string, type: ColumnDef['type'], nullable = true): ColumnDef {
  return { name, type, nullable, default: null, cqlType };
}

/** CREATE TABLE t (k1 int, k2 text, c1 int, c2 int, v text, w int, PRIMARY KEY ((k1, k2), c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC). */
function table(indexes: TableIndexDef[] = []): TableInfo {
  return {
    name: 't',
    id: 7,
    version: 1,
    createdAtMs: 0,
    columns: [col('k1', 'int', 'int64', false), col('k2', 'text', 'string', false), col('c1', 'int', 'int64', false), col('c2', 'int', 'int64', false), col('v', 'text', 'string'), col('w', 'int', 'int64')],
    primaryKey: ['k1', 'k2', 'c1', 'c2'],
    partitionKeyLength: 2,
    keyDesc: [false, false, true, false],
    indexes,
    nextIndexId: 1 + indexes.length,
    defaultTtlSeconds: 0,
    cql: true,
  };
}
const indexOnV: TableIndexDef = { name: 't_v_idx', id: 1, type: 'btree', columns: ['v'], unique: false, state: 'ready' };
const ctx = { params: [] as unknown[], nowMs: 1_700_000_000_000 };

function plan(cql: string, info = table()) {
  return planSelect(parseCql(cql).statement as Select, info, ctx);
}
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof MantisError) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error('expected a refusal');
}
const FILTERING = `Invalid: ${REQUIRES_ALLOW_FILTERING_MESSAGE}`;

describe('SELECT restrictions', () => {
  it('runs partition reads, clustering prefixes and one trailing range without ALLOW FILTERING', () => {
    for (const q of [
      'SELECT * FROM t',
      "SELECT * FROM t WHERE k1 = 1 AND k2 = 'a'",
      "SELECT * FROM t WHERE k1 IN (1, 2) AND k2 = 'a' AND c1 = 3",
      "SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c1 >= 3 AND c1 < 9",
      "SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c1 IN (1, 2) AND c2 > 0",
    ]) {
      expect(() => plan(q), q).not.toThrow();
    }
  });

  it("refuses what Cassandra refuses, with Cassandra's messages", () => {
    expect(refusal(() => plan('SELECT * FROM t WHERE k1 = 1'))).toBe(FILTERING);
    expect(refusal(() => plan('SELECT * FROM t WHERE k1 > 1'))).toBe(FILTERING);
    expect(refusal(() => plan("SELECT * FROM t WHERE v = 'x'"))).toBe(FILTERING);
    expect(refusal(() => plan('SELECT * FROM t WHERE c1 = 1'))).toBe(FILTERING);
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND w = 2"))).toBe(FILTERING);
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c2 = 2"))).toBe(
      'Invalid: PRIMARY KEY column "c2" cannot be restricted as preceding column "c1" is not restricted',
    );
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c1 > 2 AND c2 = 2"))).toBe(
      'Invalid: Clustering column "c2" cannot be restricted (preceding column "c1" is restricted by a non-EQ relation)',
    );
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 = 1 AND k1 = 2 AND k2 = 'a'"))).toBe('Invalid: k1 cannot be restricted by more than one relation if it includes an Equal');
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c1 > 1 AND c1 > 2"))).toBe('Invalid: More than one restriction was found for the start bound on c1');
    expect(refusal(() => plan('SELECT * FROM t WHERE nope = 1'))).toBe('Invalid: Undefined column name nope');
    expect(refusal(() => plan('SELECT * FROM t WHERE k1 = null'))).toBe('Invalid: Invalid null value in condition for column k1');
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 = 'x'"))).toBe('Invalid: Invalid STRING constant (x) for "k1" of type int');
  });

  it('runs all of the above with ALLOW FILTERING', () => {
    for (const q of [
      'SELECT * FROM t WHERE k1 = 1',
      "SELECT * FROM t WHERE v = 'x'",
      'SELECT * FROM t WHERE c1 = 1',
      "SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c2 = 2",
      "SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND c1 > 2 AND c2 = 2",
      'SELECT * FROM t WHERE w != 3',
    ]) {
      expect(() => plan(`${q} ALLOW FILTERING`), q).not.toThrow();
    }
  });

  it('an indexed column with = needs no ALLOW FILTERING; more than it does', () => {
    const info = table([indexOnV]);
    expect(plan("SELECT * FROM t WHERE v = 'x'", info).indexColumn).toBe('v');
    expect(() => plan("SELECT * FROM t WHERE k1 = 1 AND k2 = 'a' AND v = 'x'", info)).not.toThrow();
    expect(refusal(() => plan("SELECT * FROM t WHERE v = 'x' AND w = 1", info))).toBe(FILTERING);
    expect(refusal(() => plan("SELECT * FROM t WHERE v > 'x'", info))).toBe(
      "Invalid: Column 'v' has an index but does not support the operators specified in the query. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING",
    );
    expect(refusal(() => plan("SELECT * FROM t WHERE k1 IN (1, 2) AND k2 = 'a' AND v = 'x'", info))).toBe(
      'Invalid: Select on indexed columns and with IN clause for the PRIMARY KEY are not supported',
    );
    // An index still building does not serve.
    expect(refusal(() => plan("SELECT * FROM t WHERE v = 'x'", table([{ ...indexOnV, state: 'building' }])))).toBe(FILTERING);
  });

  it('builds the predicate the table service runs', () => {
    const p = plan("SELECT v FROM t WHERE k1 = 1 AND k2 IN ('a', 'b') AND c1 >= 3 AND c1 < 9");
    expect(p.where).toEqual({
      and: [
        { col: 0, op: '=', value: 1 },
        { col: 1, op: 'in', value: ['a', 'b'] },
        { col: 2, op: '>=', value: 3 },
        { col: 2, op: '<', value: 9 },
      ],
    });
    expect(p.columns).toEqual([4]);
    expect(p.output.map((o) => o.name)).toEqual(['v']);
  });
});

describe('SELECT ordering and selection', () => {
  it('ORDER BY a pinned partition: stored clustering order or its reverse', () => {
    const base = "SELECT * FROM t WHERE k1 = 1 AND k2 = 'a'";
    expect(plan(`${base} ORDER BY c1 DESC`).orderBy).toEqual([
      { col: 2, desc: true },
      { col: 3, desc: false },
    ]);
    expect(plan(`${base} ORDER BY c1 ASC, c2 DESC`).orderBy).toEqual([
      { col: 2, desc: false },
      { col: 3, desc: true },
    ]);
    expect(refusal(() => plan(`${base} ORDER BY c1 ASC, c2 ASC`))).toBe('Invalid: Unsupported order by relation');
    expect(refusal(() => plan(`${base} ORDER BY v`))).toBe('Invalid: Order by is currently only supported on the clustered columns of the PRIMARY KEY, got v');
    expect(refusal(() => plan(`${base} ORDER BY c2`))).toBe('Invalid: Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY');
    expect(() => plan(`${base} AND c1 = 3 ORDER BY c2 DESC`)).not.toThrow();
    expect(refusal(() => plan('SELECT * FROM t ORDER BY c1'))).toBe('Invalid: ORDER BY is only supported when the partition key is restricted by an EQ or an IN.');
  });

  it("SELECT * shows the key, then the other columns by name (Cassandra's order)", () => {
    const info: TableInfo = { ...table(), columns: [...table().columns, col('a_first', 'text', 'string')] };
    expect(starColumns(cqlTable(info)).map((c) => info.columns[c].name)).toEqual(['k1', 'k2', 'c1', 'c2', 'a_first', 'v', 'w']);
  });

  it('aggregates: names as Cassandra gives them, count(*) without rows, GROUP BY on a key prefix', () => {
    const p = plan('SELECT COUNT(*), max(w), avg(w) AS mean, sum(w) FROM t');
    expect(p.aggregating).toBe(true);
    expect(p.output.map((o) => o.name)).toEqual(['count', 'system.max(w)', 'mean', 'system.sum(w)']);
    expect(p.output[2].truncate).toBe(true);
    const g = plan('SELECT k1, k2, count(*) FROM t GROUP BY k1, k2');
    expect(g.groupBy).toEqual([0, 1]);
    expect(refusal(() => plan('SELECT count(*) FROM t GROUP BY k1'))).toBe('Invalid: Group by is not supported on only a part of the partition key');
    expect(refusal(() => plan('SELECT count(*) FROM t GROUP BY v'))).toBe('Invalid: Group by is currently only supported on the columns of the PRIMARY KEY, got v');
    expect(refusal(() => plan('SELECT sum(v) FROM t'))).toMatch(/^Invalid: Invalid call to function sum/);
    expect(refusal(() => plan('SELECT writetime(v) FROM t'))).toMatch(/^Invalid: Unknown function 'writetime'/);
  });

  it('DISTINCT partition keys; LIMIT must be positive', () => {
    expect(plan('SELECT DISTINCT k1, k2 FROM t').groupBy).toEqual([0, 1]);
    expect(refusal(() => plan('SELECT DISTINCT k1 FROM t'))).toBe('Invalid: SELECT DISTINCT queries must request all the partition key columns (missing k2)');
    expect(refusal(() => plan('SELECT DISTINCT v FROM t'))).toBe('Invalid: SELECT DISTINCT queries must only request partition key columns and/or static columns (not v)');
    expect(refusal(() => plan("SELECT DISTINCT k1, k2 FROM t WHERE k1 = 1 AND k2 = 'a' AND c1 = 2"))).toBe(
      'Invalid: SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.',
    );
    expect(plan('SELECT * FROM t LIMIT 5').limit).toBe(5);
    expect(refusal(() => plan('SELECT * FROM t LIMIT 0'))).toBe('Invalid: LIMIT must be strictly positive');
    expect(plan('SELECT * FROM t PER PARTITION LIMIT 2').perPartitionLimit).toBe(2);
    expect(refusal(() => plan('SELECT * FROM t PER PARTITION LIMIT 0'))).toBe('Invalid: PER PARTITION LIMIT must be strictly positive');
  });
});

describe('UPDATE and DELETE keys', () => {
  const t = cqlTable(table());
  const where = (cql: string) => restrictionsOf(t, (parseCql(`UPDATE t SET v = 'x' WHERE ${cql}`).statement as Update).where, ctx);

  it('UPDATE needs the whole primary key by = or IN; the IN lists multiply', () => {
    expect(fullKeys(t, where("k1 = 1 AND k2 = 'a' AND c1 IN (1, 2) AND c2 = 0"), 'UPDATE')).toEqual([
      [1, 'a', 1, 0],
      [1, 'a', 2, 0],
    ]);
    expect(refusal(() => fullKeys(t, where('c1 = 1 AND c2 = 0'), 'UPDATE'))).toBe('Invalid: Some partition key parts are missing: k1, k2');
    expect(refusal(() => fullKeys(t, where("k1 = 1 AND k2 = 'a' AND c1 = 1"), 'UPDATE'))).toBe('Invalid: Some clustering keys are missing: c2');
    expect(refusal(() => fullKeys(t, where("k1 = 1 AND k2 = 'a' AND c1 = 1 AND c2 = 0 AND v = 'y'"), 'UPDATE'))).toBe('Invalid: Non PRIMARY KEY columns found in where clause: v ');
    expect(refusal(() => fullKeys(t, where("k1 = 1 AND k2 = 'a' AND c1 = 1 AND c2 > 0"), 'UPDATE'))).toBe('Invalid: Slice restrictions are not supported on the clustering columns in UPDATE statements');
  });

  it('DELETE takes a partition, a clustering prefix, or a range on the last restricted column', () => {
    expect(() => checkDeleteRange(t, where("k1 = 1 AND k2 = 'a'"))).not.toThrow();
    expect(() => checkDeleteRange(t, where("k1 = 1 AND k2 = 'a' AND c1 > 4"))).not.toThrow();
    expect(refusal(() => checkDeleteRange(t, where("k1 = 1 AND k2 = 'a' AND c2 = 4")))).toBe('Invalid: PRIMARY KEY column "c2" cannot be restricted as preceding column "c1" is not restricted');
    expect(refusal(() => checkDeleteRange(t, where('k1 > 1')))).toBe('Invalid: Some partition key parts are missing: k2');
  });
});

describe('CQL types', () => {
  const c = (cqlType: string, type: ColumnDef['type']) => col('x', cqlType, type);
  const lit = (type: 'string' | 'integer' | 'float' | 'boolean' | 'uuid' | 'hex' | 'null', text: string) => ({ kind: 'literal' as const, type, text, pos: { line: 1, col: 0 } });

  it('maps declared types onto ours and refuses the rest', () => {
    expect(mapCqlType({ name: 'varchar', params: [], pos: { line: 1, col: 0 } })).toEqual({ type: 'string', cqlType: 'text' });
    expect(mapCqlType({ name: 'timeuuid', params: [], pos: { line: 1, col: 0 } })).toEqual({ type: 'string', cqlType: 'timeuuid' });
    expect(refusal(() => mapCqlType({ name: 'list', params: [{ name: 'int', params: [], pos: { line: 1, col: 0 } }], pos: { line: 1, col: 0 } }))).toMatch(/^Invalid: type list<int> is not supported/);
    expect(refusal(() => mapCqlType({ name: 'frob', params: [], pos: { line: 1, col: 0 } }))).toBe('Invalid: Unknown type frob');
  });

  it('converts literals by the column type with range checks', () => {
    expect(termToCell(lit('integer', '2147483647'), c('int', 'int64'), ctx)).toBe(2147483647);
    expect(refusal(() => termToCell(lit('integer', '2147483648'), c('int', 'int64'), ctx))).toBe("Invalid: Unable to make int from '2147483648'");
    expect(termToCell(lit('integer', '9223372036854775807'), c('bigint', 'int64'), ctx)).toBe(9223372036854775807n);
    expect(termToCell(lit('integer', '3'), c('double', 'float64'), ctx)).toBe(3);
    expect(termToCell(lit('float', '-Infinity'), c('double', 'float64'), ctx)).toBe(-Infinity);
    expect(termToCell(lit('uuid', 'E7AE5CF3-D358-4D99-B900-85902FDA9BB0'), c('uuid', 'string'), ctx)).toBe('e7ae5cf3-d358-4d99-b900-85902fda9bb0');
    expect(refusal(() => termToCell(lit('string', 'e7ae5cf3-d358-4d99-b900-85902fda9bb0'), c('uuid', 'string'), ctx))).toBe(
      'Invalid: Invalid STRING constant (e7ae5cf3-d358-4d99-b900-85902fda9bb0) for "x" of type uuid',
    );
    expect(refusal(() => termToCell(lit('uuid', 'e7ae5cf3-d358-4d99-b900-85902fda9bb0'), c('timeuuid', 'string'), ctx))).toMatch(/^Invalid: Unsupported UUID version/);
    expect(termToCell(lit('hex', '0xcafe'), c('blob', 'binary'), ctx)).toEqual(new Uint8Array([0xca, 0xfe]));
    expect(termToCell(lit('integer', '1000'), c('timestamp', 'timestamp'), ctx)).toBe(1_000_000);
    expect(termToCell(lit('string', '2017-04-01 10:00:00+0200'), c('timestamp', 'timestamp'), ctx)).toBe(Date.UTC(2017, 3, 1, 8) * 1000);
    expect(termToCell(lit('null', 'null'), c('text', 'string'), ctx)).toBeNull();
  });

  it('date, time and inet: canonical text that sorts right', () => {
    expect(termToCell(lit('string', '2017-4-1'), c('date', 'string'), ctx)).toBe('2017-04-01');
    expect(termToCell(lit('integer', String(2 ** 31 + 1)), c('date', 'string'), ctx)).toBe('1970-01-02');
    expect(refusal(() => termToCell(lit('string', '2019-02-29'), c('date', 'string'), ctx))).toBe("Invalid: Unable to coerce '2019-02-29' to a formatted date (long)");
    expect(termToCell(lit('string', '2020-02-29'), c('date', 'string'), ctx)).toBe('2020-02-29');
    expect(termToCell(lit('string', '8:05:09.12'), c('time', 'string'), ctx)).toBe('08:05:09.120000000');
    expect(termToCell(lit('integer', '3723000000001'), c('time', 'string'), ctx)).toBe('01:02:03.000000001');
    expect(refusal(() => termToCell(lit('string', '24:00:00'), c('time', 'string'), ctx))).toMatch(/^Invalid: Timestamp format must be hh:mm:ss/);
    expect(termToCell(lit('string', '2001:DB8:0:0::1'), c('inet', 'string'), ctx)).toBe('2001:db8::1');
    expect(termToCell(lit('string', '10.0.0.1'), c('inet', 'string'), ctx)).toBe('10.0.0.1');
    expect(refusal(() => termToCell(lit('string', 'fe80::1%eth0'), c('inet', 'string'), ctx))).toBe("Invalid: Unable to make inet address from 'fe80::1%eth0'");
    expect(refusal(() => termToCell(lit('string', '10.0.0'), c('inet', 'string'), ctx))).toBe("Invalid: Unable to make inet address from '10.0.0'");
    expect(paramToCell('2015-05-03', c('date', 'string'))).toBe('2015-05-03');
  });

  it('parses the timestamp literal forms and refuses others', () => {
    expect(parseCqlTimestamp('2015-05-03')).toBe(Date.UTC(2015, 4, 3) * 1000);
    expect(parseCqlTimestamp('2015-05-03T13:30:54.234Z')).toBe(Date.UTC(2015, 4, 3, 13, 30, 54, 234) * 1000);
    expect(parseCqlTimestamp('2015-05-03 13:30')).toBe(Date.UTC(2015, 4, 3, 13, 30) * 1000);
    expect(parseCqlTimestamp('2015-05-03 13:30:54.123456-03:00')).toBe(Date.UTC(2015, 4, 3, 16, 30, 54) * 1000 + 123456);
    expect(refusal(() => parseCqlTimestamp('2015-02-30'))).toBe("Invalid: Unable to coerce '2015-02-30' to a formatted date (long)");
    // Past 2^53 µs, either way: exact bigints, within int64.
    expect(parseCqlTimestamp('3000-01-01T00:00:00Z')).toBe(32503680000000000n);
    expect(parseCqlTimestamp('9999-12-31')).toBe(253402214400000000n);
    expect(parseCqlTimestamp('1684-01-01')).toBe(BigInt(Date.UTC(1684, 0, 1)) * 1000n);
    expect(parseCqlTimestamp('0000-02-29')).toBe(BigInt(Date.UTC(2000, 1, 29) - 2000 * 365.2425 * 86400000) * 1000n);
    expect(refusal(() => parseCqlTimestamp('294248-01-01'))).toBe("Invalid: Unable to coerce '294248-01-01' to a formatted date (long)");
  });

  it('bind values from JSON', () => {
    expect(paramToCell('9007199254740993', c('bigint', 'int64'))).toBe(9007199254740993n);
    expect(paramToCell(1500, c('timestamp', 'timestamp'))).toBe(1_500_000);
    expect(paramToCell('0x00ff', c('blob', 'binary'))).toEqual(new Uint8Array([0, 255]));
    expect(paramToCell('AP8=', c('blob', 'binary'))).toEqual(new Uint8Array([0, 255]));
    expect(refusal(() => paramToCell(3e9, c('int', 'int64')))).toMatch(/^Invalid: Invalid value for bind variable x/);
    expect(refusal(() => paramToCell('1', c('int', 'int64')))).toMatch(/^Invalid: Invalid value for bind variable x of type int/);
  });

  it('functions: toTimestamp(now()), currentTimestamp(), uuid(); a function of the wrong type is refused', () => {
    const call = (name: string, args: CqlTerm[] = []): CqlTerm => ({ kind: 'call', name, args, pos: { line: 1, col: 0 } });
    expect(termToCell(call('totimestamp', [call('now')]), c('timestamp', 'timestamp'), ctx)).toBe(ctx.nowMs * 1000);
    expect(termToCell(call('currenttimestamp'), c('timestamp', 'timestamp'), ctx)).toBe(ctx.nowMs * 1000);
    expect(termToCell(call('uuid'), c('uuid', 'string'), ctx)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(refusal(() => termToCell(call('uuid'), c('timeuuid', 'string'), ctx))).toMatch(/^Invalid: Type error: cannot assign result of function system.uuid \(type uuid\) to x \(type timeuuid\)/);
    expect(refusal(() => termToCell(call('now', [lit('integer', '1')]), c('timeuuid', 'string'), ctx))).toMatch(/^Invalid: Invalid number of arguments/);
    expect(refusal(() => termToCell(call('blobastext'), c('text', 'string'), ctx))).toBe("Invalid: Unknown function 'blobastext'");
  });

  it('now() makes increasing version-1 uuids that carry their time', () => {
    const a = timeuuidAt(1_700_000_000_000);
    const b = timeuuidAt(1_700_000_000_000);
    expect(a).not.toBe(b);
    expect(a[14]).toBe('1');
    expect(timeuuidMs(a)).toBe(1_700_000_000_000);
  });
});

describe('planner robustness', () => {
  it('random SELECTs on the table either plan or fail as Invalid, and a plan only names real columns', () => {
    const cols = ['k1', 'k2', 'c1', 'c2', 'v', 'w', 'nope'];
    const values: Record<string, string[]> = { k1: ['1', '-2'], k2: ["'a'"], c1: ['3', '0'], c2: ['4'], v: ["'x'"], w: ['5'], nope: ['1'] };
    const relation = fc
      .tuple(fc.constantFrom(...cols), fc.constantFrom('=', '<', '<=', '>', '>=', '!=', 'IN'), fc.nat(3))
      .map(([c, op, i]) => (op === 'IN' ? `${c} IN (${values[c].join(', ')})` : `${c} ${op} ${values[c][i % values[c].length]}`));
    const select = fc
      .record({
        what: fc.constantFrom('*', 'v', 'k1, c1, w', 'COUNT(*)', 'max(w), count(v)', 'DISTINCT k1, k2', 'k1, k2, count(*)'),
        where: fc.array(relation, { maxLength: 5 }),
        group: fc.constantFrom('', ' GROUP BY k1, k2', ' GROUP BY k1, k2, c1'),
        order: fc.constantFrom('', ' ORDER BY c1', ' ORDER BY c1 ASC, c2 DESC', ' ORDER BY c2 DESC', ' ORDER BY v'),
        limit: fc.constantFrom('', ' LIMIT 3'),
        allow: fc.boolean(),
        indexed: fc.boolean(),
      })
      .map((r) => ({
        text: `SELECT ${r.what} FROM t${r.where.length > 0 ? ` WHERE ${r.where.join(' AND ')}` : ''}${r.group}${r.order}${r.limit}${r.allow ? ' ALLOW FILTERING' : ''}`,
        indexed: r.indexed,
      }));
    fc.assert(
      fc.property(select, ({ text, indexed }) => {
        const info = table(indexed ? [indexOnV] : []);
        try {
          const p = planSelect(parseCql(text).statement as Select, info, ctx);
          for (const c of [...p.columns, ...p.groupBy, ...p.orderBy.map((o) => o.col)]) expect(c).toBeLessThan(info.columns.length);
        } catch (error) {
          if (!(error instanceof MantisError) || error.code !== 'Invalid') throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
