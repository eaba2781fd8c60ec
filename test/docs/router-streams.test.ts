// src/http/invalidation-streams.ts, the document change-stream parts: the
// WebSocket "changes" control messages and the SSE query, and the change
// source that checks a subscription before it reaches the hub.

import { describe, expect, it } from 'vitest';
import { ChangeHub } from '../../src/docs/change-hub.js';
import { changeSource } from '../../src/docs/change-source.js';
import { changesQuery, parseChangesControl } from '../../src/http/invalidation-streams.js';
import { codeOf } from '../helpers/error-code.js';

const frame = (value: unknown): ArrayBuffer => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)).buffer as ArrayBuffer;


describe('WebSocket "changes" messages', () => {
  it('reads subscribe and unsubscribe; leaves other messages to the invalidation parser', () => {
    expect(parseChangesControl(frame({ subscribe: 'changes', collection: 'c', filter: { a: 1 }, resume_after: 't-1' }), false)).toEqual({ action: 'subscribe', collection: 'c', filter: { a: 1 }, resumeAfter: 't-1' });
    expect(parseChangesControl(frame({ unsubscribe: 'changes', collection: 'c' }), false)).toEqual({ action: 'unsubscribe', collection: 'c', filter: null, resumeAfter: null });
    for (const other of [{ subscribe: 'invalidations' }, { unsubscribe: 'invalidations', prefix: 'x' }, 'not json', [1]]) {
      expect(parseChangesControl(frame(other), false)).toBeNull();
    }
    expect(parseChangesControl(frame({ subscribe: 'changes', collection: 'c' }), true)).toBeNull();
  });

  it('says what is wrong with a bad one', () => {
    for (const bad of [{ subscribe: 'changes' }, { subscribe: 'changes', collection: 5 }, { subscribe: 'changes', collection: 'c', extra: 1 }, { subscribe: 'changes', collection: 'c', resume_after: 5 }, { unsubscribe: 'changes', collection: 'c', filter: {} }]) {
      expect(codeOf(() => parseChangesControl(frame(bad), false)), JSON.stringify(bad)).toBe('INVALID_PARAMETER');
    }
  });
});

describe('SSE query', () => {
  it('reads the collection, ?filter= and the resume token (or Last-Event-ID)', () => {
    expect(changesQuery('my.coll', `filter=${encodeURIComponent('{"operationType":"delete"}')}&resume_after=t-5`, '')).toEqual({ coll: 'my.coll', filter: { operationType: 'delete' }, resumeAfter: 't-5' });
    expect(changesQuery('c', '', 't-9')).toEqual({ coll: 'c', filter: null, resumeAfter: 't-9' });
    expect(changesQuery('c', 'resume_after=', '')).toEqual({ coll: 'c', filter: null, resumeAfter: null });
    expect(codeOf(() => changesQuery('c', 'filter=%7Bbad', ''))).toBe('INVALID_JSON');
    expect(codeOf(() => changesQuery('%E0%A4%A', '', ''))).toBe('INVALID_PARAMETER');
  });
});

describe('changeSource', () => {
  it('checks the collection name, the filter and the token before subscribing', () => {
    const source = changeSource(new ChangeHub({ ringEvents: 10 }));
    expect(codeOf(() => source.subscribe('bad name', null, null, () => undefined))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => source.subscribe('c', [1], null, () => undefined))).toBe('INVALID_PARAMETER');
    expect(codeOf(() => source.subscribe('c', { $frob: 1 }, null, () => undefined))).toBe('BAD_QUERY');
    expect(codeOf(() => source.subscribe('c', null, 'nope', () => undefined))).toBe('CURSOR_INVALID');
    expect(codeOf(() => source.subscribe('c', { 'fullDocument.n': { $gt: 1 } }, null, () => undefined))).toBe('none');
  });
});
