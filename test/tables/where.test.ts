// parseWhere: the JSON predicate tree → Predicate (columns resolved, values typed), its refusals,
// and predicateColumns.

import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import type { Predicate, Row, TableInfo } from '../../shared/tables/table-types.js';
import { evalRow } from '../../shared/tables/vector-filter.js';
import { parseWhere, predicateColumns } from '../../shared/tables/where.js';

const info: TableInfo = {
  name: 't',
  id: 1,
  version: 1,
  createdAtMs: 0,
  columns: [
    { name: 'id', type: 'int64', nullable: false, default: null },
    { name: 'city', type: 'string', nullable: true, default: null },
    { name: 'age', type: 'int64', nullable: true, default: null },
    { name: 'at', type: 'timestamp', nullable: true, default: null },
  ],
  primaryKey: ['id'],
  partitionKeyLength: 1,
  keyDesc: [false],
  indexes: [],
  nextIndexId: 1,
  defaultTtlSeconds: 0,
  cql: false,
};

function err(json: unknown): MantisError {
  try {
    parseWhere(json, info);
  } catch (e) {
    if (e instanceof MantisError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('parseWhere', () => {
  it('parses the issue example', () => {
    const p = parseWhere(
      { and: [{ col: 'age', op: '>', value: 30 }, { col: 'city', op: 'in', value: ['NYC', 'LA'] }, { col: 'at', op: 'is_null' }] },
      info,
    );
    expect(p).toEqual({ and: [{ col: 2, op: '>', value: 30 }, { col: 1, op: 'in', value: ['NYC', 'LA'] }, { col: 3, op: 'is_null' }] });
    expect(predicateColumns(p)).toEqual([1, 2, 3]);
  });

  it('an empty in list is FALSE on every row and not_in TRUE, NULL rows included (never UNKNOWN)', () => {
    const rows: Row[] = [[1, 'NYC', 30, null], [2, null, null, null]];
    const matches = (json: unknown): number[] => {
      const p = parseWhere(json, info) as Predicate;
      return rows.filter((r) => evalRow(p, r)).map((r) => r[0] as number);
    };
    expect(matches({ col: 'city', op: 'in', value: [] })).toEqual([]);
    expect(matches({ col: 'city', op: 'not_in', value: [] })).toEqual([1, 2]);
    expect(matches({ not: { col: 'city', op: 'in', value: [] } })).toEqual([1, 2]);
    expect(matches({ not: { col: 'city', op: 'not_in', value: [] } })).toEqual([]);
    expect(matches({ col: 'city', op: 'not_in', value: ['LA'] })).toEqual([1]);
  });

  it('types values through cell-json', () => {
    expect(parseWhere({ col: 'id', op: '=', value: '9007199254740993' }, info)).toEqual({ col: 0, op: '=', value: 9007199254740993n });
    expect(parseWhere({ col: 'at', op: '>=', value: '1970-01-01T00:00:01Z' }, info)).toEqual({ col: 3, op: '>=', value: 1_000_000 });
    expect(parseWhere({ not: { or: [{ col: 'city', op: 'starts_with', value: 'N' }] } }, info)).toEqual({
      not: { or: [{ col: 1, op: 'starts_with', value: 'N' }] },
    });
    expect(parseWhere(null, info)).toBeNull();
    expect(parseWhere(undefined, info)).toBeNull();
    expect(predicateColumns(null)).toEqual([]);
  });

  it('refuses bad shapes, unknown columns, mismatched values', () => {
    expect(err({ col: 'nope', op: '=', value: 1 })).toMatchObject({ code: 'UNKNOWN_COLUMN', details: { column: 'nope' } });
    expect(err({ col: 'age', op: '=', value: 'x' })).toMatchObject({ code: 'TYPE_MISMATCH', details: { column: 'age' } });
    expect(err({ col: 'age', op: 'starts_with', value: '1' })).toMatchObject({ code: 'TYPE_MISMATCH' });
    expect(err({ col: 'age', op: '=', value: null }).code).toBe('BAD_QUERY');
    expect(err({ col: 'age', op: '~', value: 1 }).code).toBe('BAD_QUERY');
    expect(err({ col: 'age', op: 'in', value: 1 }).code).toBe('BAD_QUERY');
    expect(err({ col: 'age', op: 'in', value: [1, null] }).code).toBe('BAD_QUERY');
    expect(err({ col: 'age', op: 'in', value: new Array(10_001).fill(1) }).code).toBe('BAD_QUERY');
    expect(err({ col: 'age', op: 'is_null', value: 1 }).code).toBe('BAD_QUERY');
    expect(err({ col: 'age', op: '=', value: 1, extra: 1 }).code).toBe('BAD_QUERY');
    expect(err({ and: {} }).code).toBe('BAD_QUERY');
    expect(err({ and: [], or: [] }).code).toBe('BAD_QUERY');
    expect(err([1]).code).toBe('BAD_QUERY');
    let deep: unknown = { col: 'age', op: 'is_null' };
    for (let i = 0; i < 31; i++) deep = { not: deep };
    expect(parseWhere(deep, info)).not.toBeNull();
    expect(err({ not: deep }).code).toBe('BAD_QUERY');
  });
});
