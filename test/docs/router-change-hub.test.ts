// src/docs/change-hub.ts: events per collection with resume tokens, filters,
// the bounded ring, and the tokens it refuses.

import { describe, expect, it } from 'vitest';
import type { DocChange } from '../../shared/docs/doc-protocol.js';
import { ChangeHub, type ChangeDelivery } from '../../src/docs/change-hub.js';
import { codeOf } from '../helpers/error-code.js';

const ins = (coll: string, id: number): DocChange => ({ op: 'insert', coll, id, doc: { _id: id, n: id } });

function collect(): { got: ChangeDelivery[]; deliver: (e: ChangeDelivery) => void; parsed: () => Record<string, unknown>[] } {
  const got: ChangeDelivery[] = [];
  return { got, deliver: (e) => got.push(e), parsed: () => got.map((e) => JSON.parse(e.json) as Record<string, unknown>) };
}


describe('ChangeHub', () => {
  it('delivers a collection\'s events in order, in MongoDB\'s shape, with increasing tokens', () => {
    const hub = new ChangeHub({ ringEvents: 100 });
    const a = collect();
    hub.subscribe('c', null, null, a.deliver);
    hub.publish([ins('c', 1), ins('other', 2), { op: 'update', coll: 'c', id: 1, doc: { _id: 1, n: 5 }, updated: { n: 5 }, removed: ['x'] }, { op: 'delete', coll: 'c', id: 1 }]);
    const events = a.parsed();
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'update', 'delete']);
    expect(events[0]).toMatchObject({ type: 'change', ns: { coll: 'c' }, documentKey: { _id: 1 }, fullDocument: { _id: 1, n: 1 } });
    expect(events[1].updateDescription).toEqual({ updatedFields: { n: 5 }, removedFields: ['x'] });
    expect(events[2].fullDocument).toBeUndefined();
    expect(events.map((e) => e._id)).toEqual(a.got.map((g) => g.token));
    expect(new Set(a.got.map((g) => g.token)).size).toBe(3);
  });

  it('filters on the event document', () => {
    const hub = new ChangeHub({ ringEvents: 100 });
    const a = collect();
    hub.subscribe('c', (doc) => doc.operationType === 'delete', null, a.deliver);
    hub.publish([ins('c', 1), { op: 'delete', coll: 'c', id: 1 }]);
    expect(a.parsed().map((e) => e.operationType)).toEqual(['delete']);
  });

  it('resumes after a token with exactly the events that followed it, then live ones', () => {
    const hub = new ChangeHub({ ringEvents: 100 });
    const first = collect();
    const stop = hub.subscribe('c', null, null, first.deliver);
    hub.publish([ins('c', 1), ins('c', 2), ins('c', 3)]);
    stop();
    hub.publish([ins('c', 4)]);
    expect(first.got).toHaveLength(3);
    const again = collect();
    hub.subscribe('c', null, first.got[1].token, again.deliver);
    expect(again.parsed().map((e) => (e.documentKey as { _id: number })._id)).toEqual([3, 4]);
    hub.publish([ins('c', 5)]);
    expect(again.parsed().map((e) => (e.documentKey as { _id: number })._id)).toEqual([3, 4, 5]);
  });

  it('refuses tokens it cannot resume from: evicted, from another process, made up', () => {
    const hub = new ChangeHub({ ringEvents: 3 });
    const a = collect();
    hub.subscribe('c', null, null, a.deliver);
    hub.publish([1, 2, 3, 4, 5].map((i) => ins('c', i)));
    // The ring keeps 3..5: resuming after 2 or later works, after 1 lost event 2.
    expect(codeOf(() => hub.subscribe('c', null, a.got[1].token, () => undefined))).toBe('none');
    expect(codeOf(() => hub.subscribe('c', null, a.got[0].token, () => undefined))).toBe('CURSOR_INVALID');
    const other = new ChangeHub({ ringEvents: 3 });
    expect(codeOf(() => other.subscribe('c', null, a.got[4].token, () => undefined))).toBe('CURSOR_INVALID');
    for (const bad of ['', 'x', `${hub.epoch}-`, `${hub.epoch}-zzzzzz`, `${hub.epoch}-!`]) {
      expect(codeOf(() => hub.subscribe('c', null, bad, () => undefined)), bad).toBe('CURSOR_INVALID');
    }
  });

  it('records a collection only from its first subscription on', () => {
    const hub = new ChangeHub({ ringEvents: 10 });
    hub.publish([ins('c', 1)]);
    const before = hub.currentToken();
    const a = collect();
    hub.subscribe('c', null, before, a.deliver);
    expect(a.got).toHaveLength(0);
    hub.publish([ins('c', 2)]);
    expect(a.got).toHaveLength(1);
  });
});
