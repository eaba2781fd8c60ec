// src/docs/doc-requests.ts and doc-common.ts: request bodies and path ids
// parsed into typed requests (400 codes for bad input), documents prepared for
// insertion, the _ids a filter pins, and updates/replacements compiled for
// one document and for upserts.

import { ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { compileMutation, idsOfFilter, prepareDocs, withId } from '../../src/docs/doc-common.js';
import {
  aggregateRequest,
  bodyDoc,
  deleteRequest,
  findAndModifyRequest,
  findRequest,
  idFromSegment,
  indexRequest,
  insertRequest,
  updateRequest,
} from '../../src/docs/doc-requests.js';
import { codeOf } from '../helpers/error-code.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);


describe('bodies', () => {
  it('reads relaxed and canonical EJSON objects', () => {
    const body = bodyDoc('application/json; charset=utf-8', utf8('{"documents":[{"_id":{"$oid":"0123456789abcdef01234567"},"n":{"$numberLong":"5"},"d":{"$date":"2024-01-01T00:00:00Z"}}]}'));
    const [doc] = insertRequest(body);
    expect(doc._id).toBeInstanceOf(ObjectId);
    expect(doc.n).toBe(5n);
    expect(doc.d).toEqual(new Date('2024-01-01T00:00:00Z'));
  });

  it('refuses what is not a JSON object, bad UTF-8 and other media types', () => {
    expect(codeOf(() => bodyDoc('application/json', utf8('[1]')))).toBe('INVALID_JSON');
    expect(codeOf(() => bodyDoc('application/json', utf8('{bad')))).toBe('INVALID_JSON');
    expect(codeOf(() => bodyDoc(undefined, utf8('')))).toBe('INVALID_JSON');
    expect(codeOf(() => bodyDoc(undefined, new Uint8Array([0x7b, 0xff, 0x7d])))).toBe('INVALID_JSON');
    expect(codeOf(() => bodyDoc('application/x-www-form-urlencoded', utf8('{}')))).toBe('UNSUPPORTED_MEDIA_TYPE');
    // A value bson refuses is bad input, not a crash.
    expect(codeOf(() => bodyDoc(undefined, utf8('{"filter":{"s":{"$regex":"a","$options":"q"}}}')))).toBe('BAD_QUERY');
  });

  it('insert: 1..1000 objects', () => {
    expect(codeOf(() => insertRequest({ documents: [] }))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => insertRequest({ documents: [1] }))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => insertRequest({ documents: Array.from({ length: 1001 }, () => ({})) }))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => insertRequest({ docs: [{}] }))).toBe('INVALID_PARAMETER');
    expect(insertRequest({ documents: Array.from({ length: 1000 }, () => ({})) })).toHaveLength(1000);
  });

  it('find: defaults, limits, unknown fields', () => {
    expect(findRequest({})).toEqual({ filter: {}, projection: null, sort: null, skip: 0, limit: 100, cursor: null, hint: null });
    expect(findRequest({ sort: {}, limit: 1000, skip: 5 })).toMatchObject({ sort: null, limit: 1000, skip: 5 });
    for (const bad of [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { skip: -1 }, { filter: 5 }, { sort: [1] }, { nope: 1 }] as Doc[]) {
      expect(codeOf(() => findRequest(bad)), JSON.stringify(bad)).toBe('INVALID_PARAMETER');
    }
    expect(codeOf(() => findRequest({ cursor: 5 }))).toBe('CURSOR_INVALID');
  });

  it('update, find_and_modify, delete, aggregate', () => {
    expect(updateRequest({ update: { $set: { a: 1 } }, array_filters: [{ 'x.a': 1 }] })).toMatchObject({ upsert: false, multi: false, arrayFilters: [{ 'x.a': 1 }] });
    expect(codeOf(() => updateRequest({ filter: {} }))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => updateRequest({ update: 5 }))).toBe('INVALID_PARAMETER');
    expect(findAndModifyRequest({ remove: true })).toMatchObject({ remove: true, update: null, returnAfter: false });
    expect(findAndModifyRequest({ update: [{ $set: { a: 1 } }], return: 'after' })).toMatchObject({ returnAfter: true });
    expect(codeOf(() => findAndModifyRequest({ remove: true, update: { $set: { a: 1 } } }))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => findAndModifyRequest({ update: { $set: { a: 1 } }, return: 'later' }))).toBe('INVALID_PARAMETER');
    expect(deleteRequest({})).toEqual({ filter: {}, multi: true });
    expect(codeOf(() => aggregateRequest({ pipeline: {} }))).toBe('INVALID_PARAMETER');
    expect(aggregateRequest({ pipeline: [], allow_disk_use: true })).toEqual({ pipeline: [], allowDiskUse: true });
  });

  it('indexes: keys, type, ttl, unique', () => {
    expect(indexRequest({ keys: { 'user.email': 1, age: -1 } })).toMatchObject({ name: null, keys: [['user.email', 1], ['age', -1]], unique: false, ttlSeconds: null });
    expect(indexRequest({ keys: { h: 1 }, type: 'hash' }).keys).toEqual([['h', 'hashed']]);
    expect(indexRequest({ keys: { t: 'text' } }).keys).toEqual([['t', 'text']]);
    expect(indexRequest({ keys: { at: 1 }, ttl_seconds: 60 }).ttlSeconds).toBe(60);
    expect(codeOf(() => indexRequest({ keys: {} }))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => indexRequest({ keys: { a: 2 } }))).toBe('BAD_QUERY');
    expect(codeOf(() => indexRequest({ keys: { a: 1, b: 1 }, ttl_seconds: 5 }))).toBe('BAD_QUERY');
    expect(codeOf(() => indexRequest({ keys: { a: 1 }, type: 'hash', unique: true }))).toBe('BAD_QUERY');
    expect(codeOf(() => indexRequest({ keys: { a: 1 }, type: 'gist' }))).toBe('INVALID_PARAMETER');
  });
});

describe('ids in paths', () => {
  it('24 hex digits are an ObjectId, anything else a string; id_type says otherwise', () => {
    const hex = '0123456789abcdef01234567';
    expect(idFromSegment(hex, null)).toEqual(ObjectId.createFromHexString(hex));
    expect(idFromSegment(hex, 'string')).toBe(hex);
    expect(idFromSegment('42', null)).toBe('42');
    expect(idFromSegment('42', 'number')).toBe(42);
    expect(idFromSegment('-1.5e3', 'number')).toBe(-1500);
    expect(idFromSegment('9007199254740993', 'number')).toBe(9007199254740993n);
    expect(codeOf(() => idFromSegment('x', 'number'))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => idFromSegment('Infinity', 'number'))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => idFromSegment('abc', 'oid'))).toBe('INVALID_PARAMETER');
  });
});

describe('doc-common', () => {
  it('puts _id first, generating an ObjectId when absent, and checks limits and the validator', () => {
    expect(Object.keys(withId({ a: 1, _id: 2 }))).toEqual(['_id', 'a']);
    const made = withId({ a: 1 });
    expect(made._id).toBeInstanceOf(ObjectId);
    expect(codeOf(() => prepareDocs([{ a: 1 }, { $bad: 1 }], null))).toBe('DOC_VALIDATION');
    expect(codeOf(() => prepareDocs([{ a: 1 }], (d) => {
      if (d.b === undefined) throw new MantisError('DOC_VALIDATION', 'b is required');
    }))).toBe('DOC_VALIDATION');
  });

  it('pins _ids from equality, $eq and $in only', () => {
    const oid = new ObjectId();
    expect(idsOfFilter({ _id: 5, a: 1 })).toEqual([5]);
    expect(idsOfFilter({ _id: { $eq: oid } })).toEqual([oid]);
    expect(idsOfFilter({ _id: { $in: [1, 2, 1.0, 'x'] } })).toEqual([1, 2, 'x']);
    expect(idsOfFilter({ _id: { $gt: 1 } })).toBeNull();
    expect(idsOfFilter({ _id: { $in: [1, { $gt: 1 }] } })).toBeNull();
    expect(idsOfFilter({ a: 1 })).toBeNull();
    expect(idsOfFilter({ _id: [1] })).toBeNull();
  });

  it('compiles updates, replacements and upserts', () => {
    const now = new Date(0);
    const update = compileMutation({ $inc: { n: 1 }, $setOnInsert: { fresh: true } }, null, { k: 'x' }, false);
    expect(update.apply({ _id: 1, n: 1 }, now)).toMatchObject({ doc: { _id: 1, n: 2 }, modified: true });
    const seeded = update.upsert(now);
    expect(seeded).toMatchObject({ k: 'x', n: 1, fresh: true });
    expect(Object.keys(seeded)[0]).toBe('_id');
    const replace = compileMutation({ z: 1 }, null, { _id: 'given' }, true);
    expect(replace.replacement).toBe(true);
    expect(replace.apply({ _id: 'given', a: 1 }, now)).toMatchObject({ doc: { _id: 'given', z: 1 }, modified: true });
    expect(replace.upsert(now)).toEqual({ _id: 'given', z: 1 });
    expect(codeOf(() => compileMutation({ z: 1 }, null, {}, false))).toBe('BAD_QUERY');
    expect(codeOf(() => compileMutation({ $frob: { a: 1 } }, null, {}, false))).toBe('BAD_QUERY');
    expect(codeOf(() => compileMutation({ $set: { _id: 2 } }, null, {}, false).apply({ _id: 1 }, now))).toBe('BAD_QUERY');
  });
});
