// The executor's pure parts: bind values from positional or named params, and the table
// service's refusals mapped onto Cassandra's error classes.

import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { bindValues, cqlError } from '../../src/cql/cql-exec.js';
import { parseCql } from '../../src/cql/cql-parser.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof MantisError) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('bind values', () => {
  it('positional params fill ? markers in order; counts must match', () => {
    const { binds } = parseCql('SELECT * FROM t WHERE a = ? AND b IN ? LIMIT ?');
    expect(bindValues(binds, [1, [2, 3], 10])).toEqual([1, [2, 3], 10]);
    expect(codeOf(() => bindValues(binds, [1]))).toBe('Invalid: There were 3 markers(?) in CQL but 1 bound variables');
    expect(codeOf(() => bindValues(binds, undefined))).toBe('Invalid: There were 3 markers(?) in CQL but 0 bound variables');
    expect(bindValues(parseCql('SELECT * FROM t').binds, undefined)).toEqual([]);
  });

  it('named params fill :name markers (a name may repeat)', () => {
    const { binds } = parseCql('UPDATE t SET v = :v WHERE k = :k AND c = :k');
    expect(bindValues(binds, { k: 7, v: 'x' })).toEqual(['x', 7, 7]);
    expect(codeOf(() => bindValues(binds, { k: 7 }))).toBe('Invalid: No value given for bind marker :v');
    expect(codeOf(() => bindValues(parseCql('SELECT * FROM t WHERE a = ?').binds, { a: 1 }))).toBe('Invalid: Positional bind markers (?) need "params" as an array');
    expect(codeOf(() => bindValues(binds, 'x'))).toMatch(/^INVALID_PARAMETER/);
  });
});

describe('error classes', () => {
  const create = parseCql('CREATE TABLE ks.t (k int PRIMARY KEY)').statement;
  it('an existing table is AlreadyExists in Cassandra words; schema and type refusals are Invalid', () => {
    const e = cqlError(new MantisError('TABLE_EXISTS', 'table "t" already exists'), create) as MantisError;
    expect([e.code, e.status, e.message]).toEqual(['AlreadyExists', 409, 'Cannot add already existing table "t" to keyspace "ks"']);
    const bad = cqlError(new MantisError('TYPE_MISMATCH', 'column "x" …', { column: 'x' }), create) as MantisError;
    expect([bad.code, bad.status, bad.details]).toEqual(['Invalid', 400, { column: 'x' }]);
    const busy = new MantisError('SHARD_BUSY', 'busy');
    expect(cqlError(busy, create)).toBe(busy);
  });
});
