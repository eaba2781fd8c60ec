// shared/docs/doc-validate.ts: $jsonSchema validators (MongoDB's flavour over
// ajv), the document limits, and collection/index names.

import { Binary, Decimal128, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { checkCollectionName, checkDocument, checkIndexName, compileValidator, DOC_DEPTH_MAX } from '../../shared/docs/doc-validate.js';

function failure(work: () => unknown): MantisError {
  try {
    work();
  } catch (error) {
    if (error instanceof MantisError) return error;
    throw error;
  }
  throw new Error('expected a MantisError');
}

describe('compileValidator', () => {
  const validate = compileValidator({
    $jsonSchema: {
      bsonType: 'object',
      required: ['name', 'user'],
      properties: {
        name: { bsonType: 'string', minLength: 1 },
        age: { type: 'number', minimum: 0, maximum: 150, exclusiveMaximum: true },
        user: { bsonType: 'object', properties: { email: { bsonType: 'string', pattern: '@' } } },
        id: { bsonType: ['objectId', 'string'] },
        at: { bsonType: 'date' },
        tags: { bsonType: 'array', items: { bsonType: 'string' } },
      },
    },
  });

  it('accepts a matching document with BSON types', () => {
    validate({ name: 'a', age: 3, user: { email: 'a@b' }, id: new ObjectId(), at: new Date(), tags: ['x'] });
    // type "number" takes every numeric BSON type
    validate({ name: 'a', age: 3n, user: {} });
    validate({ name: 'a', age: 2.5, user: {} });
    validate({ name: 'a', age: Decimal128.fromString('1.5'), user: {} });
  });

  it('names the failing path', () => {
    const missing = failure(() => validate({ name: 'a' }));
    expect(missing.code).toBe('DOC_VALIDATION');
    expect(missing.message).toContain('"user"');
    const nested = failure(() => validate({ name: 'a', user: { email: 5 } }));
    expect(nested.message).toContain('"user.email"');
    expect(nested.details?.path).toBe('user.email');
    expect(failure(() => validate({ name: 'a', user: {}, tags: ['x', 3] })).details?.path).toBe('tags.1');
    expect(failure(() => validate({ name: 'a', user: {}, id: 7 })).message).toContain('"id" must be of BSON type objectId or string');
    expect(failure(() => validate({ name: 'a', user: {}, at: '2020-01-01' })).details?.path).toBe('at');
  });

  it('reads draft 4 exclusive bounds', () => {
    expect(failure(() => validate({ name: 'a', user: {}, age: 150 })).details?.path).toBe('age');
    validate({ name: 'a', user: {}, age: 149.9 });
  });

  it('refuses bad schemas with BAD_QUERY', () => {
    for (const bad of [
      { $jsonSchema: { type: 'integer' } },
      { $jsonSchema: { bsonType: 'nope' } },
      { $jsonSchema: { $ref: '#/x' } },
      { $jsonSchema: { format: 'email' } },
      { $jsonSchema: 5 },
      { age: { $gt: 1 } },
      { $jsonSchema: { properties: { a: { minimum: 'x' } } } },
    ] as Doc[]) {
      expect(failure(() => compileValidator(bad)).code, JSON.stringify(bad)).toBe('BAD_QUERY');
    }
  });

  it('null accepts everything', () => {
    compileValidator(null)({ anything: 1 });
  });
});

describe('checkDocument', () => {
  it('accepts ordinary documents with nested $ fields allowed as MongoDB 5+ does', () => {
    checkDocument({ _id: 1, a: { b: [1, { c: 2 }] }, bin: new Binary(Buffer.from('xy')) });
    checkDocument({ a: { $weird: 1 } });
  });

  it('refuses $ field names at the top level and in _id, NUL in names, bad _id', () => {
    expect(failure(() => checkDocument({ $set: 1 })).code).toBe('DOC_VALIDATION');
    expect(failure(() => checkDocument({ _id: { $gt: 1 } })).code).toBe('DOC_VALIDATION');
    expect(failure(() => checkDocument({ a: { 'x\0y': 1 } })).code).toBe('DOC_VALIDATION');
    expect(failure(() => checkDocument({ _id: [1] })).code).toBe('DOC_VALIDATION');
  });

  it('refuses nesting past the limit', () => {
    const nest = (depth: number): Doc => {
      let doc: Doc = { leaf: 1 };
      for (let i = 1; i < depth; i++) doc = { a: doc };
      return doc;
    };
    checkDocument(nest(DOC_DEPTH_MAX));
    expect(failure(() => checkDocument(nest(DOC_DEPTH_MAX + 1))).code).toBe('DOC_VALIDATION');
    let arrays: DocValue = 1;
    for (let i = 0; i < DOC_DEPTH_MAX; i++) arrays = [arrays];
    expect(failure(() => checkDocument({ a: arrays })).code).toBe('DOC_VALIDATION');
  });

  it('refuses documents over 16 MiB encoded', () => {
    checkDocument({ s: 'x'.repeat(8 * 1024 * 1024) });
    expect(failure(() => checkDocument({ s: 'x'.repeat(17 * 1024 * 1024) })).code).toBe('DOC_TOO_LARGE');
  });
});

describe('names', () => {
  it('checks collection and index names', () => {
    expect(checkCollectionName('users.v2-x_1')).toBe('users.v2-x_1');
    expect(checkIndexName('email_1')).toBe('email_1');
    for (const bad of ['', 'a b', 'system.users', 'x'.repeat(121), 5, 'é', '.', '..']) {
      expect(failure(() => checkCollectionName(bad)).code).toBe('INVALID_PARAMETER');
    }
    // Three dots are a name like any other; only "." and ".." are path segments a URL cannot carry.
    expect(checkCollectionName('...')).toBe('...');
    expect(failure(() => checkIndexName('..')).code).toBe('INVALID_PARAMETER');
  });
});
