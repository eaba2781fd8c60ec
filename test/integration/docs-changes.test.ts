// Change streams of a collection on a real 2-shard server, over SSE
// (GET /api/v1/docs/:c/changes) and the /ws subscription
// {"subscribe":"changes","collection":"c"}: insert (the document), update
// (the changed and removed fields), replace and delete, only of that
// collection, in commit order per document (many documents on both shards
// updated concurrently); a client that reconnects with the last token it saw
// gets exactly the events it missed, then live ones.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, docsUrl, type Json } from '../helpers/docs-client.js';
import { idsAcrossShards } from '../helpers/docs-placement.js';
import { openChangesSse, openChangesWs, type Change, type ChangeStream } from '../helpers/docs-streams.js';

afterAll(cleanup);

const SHARDS = 2;

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

/** A change without its token (tokens are opaque), for comparisons. */
function shape(change: Change): Omit<Change, 'token'> {
  const { token: _token, ...rest } = change;
  return rest;
}

type Transport = 'sse' | 'ws';

function open(transport: Transport, coll: string, resumeAfter?: string): Promise<ChangeStream> {
  return transport === 'sse' ? openChangesSse(server.url, coll, { resumeAfter }) : openChangesWs(server.url, coll, { resumeAfter });
}

/** Per document, its changes in stream order. */
function perDocument(changes: readonly Change[]): Map<string, Omit<Change, 'token'>[]> {
  const byDoc = new Map<string, Omit<Change, 'token'>[]>();
  for (const change of changes) {
    const key = JSON.stringify(change.id);
    byDoc.set(key, [...(byDoc.get(key) ?? []), shape(change)]);
  }
  return byDoc;
}

describe.each(['sse', 'ws'] as const)('change stream over %s', (transport) => {
  it('reports insert, update (changed and removed fields), replace and delete of its collection only, in order', async () => {
    const c = new DocsClient(server.url, collName(`ch_${transport}`));
    const other = new DocsClient(server.url, collName('ch_other'));
    await c.insert([{ _id: 'warm' }]);
    await other.insert([{ _id: 'warm' }]);
    const stream = await open(transport, c.coll);
    try {
      await c.insert([{ _id: 'A', x: 1, y: 2, sub: { k: 0 } }]);
      await other.insert([{ _id: 'not-ours' }]);
      await c.update({ filter: { _id: 'A' }, update: { $set: { x: 5 }, $unset: { y: '' } } });
      await c.update({ filter: { _id: 'A' }, update: { $inc: { 'sub.k': 1 } } });
      await expectOk(await c.putById('A', { z: 1 }));
      await expectOk(await c.deleteById('A'));
      const changes = await stream.take(5);
      expect(changes.map(shape)).toEqual([
        { op: 'insert', id: 'A', doc: { _id: 'A', x: 1, y: 2, sub: { k: 0 } } },
        expect.objectContaining({ op: 'update', id: 'A', updated: { x: 5 }, removed: ['y'] }),
        expect.objectContaining({ op: 'update', id: 'A', updated: { 'sub.k': 1 } }),
        { op: 'replace', id: 'A', doc: { _id: 'A', z: 1 } },
        { op: 'delete', id: 'A' },
      ]);
      expect(new Set(changes.map((ch) => ch.token)).size).toBe(5);
      expect(stream.changes.unread()).toEqual([]);
    } finally {
      stream.close();
    }
  });

  it('keeps commit order per document while documents on both shards change concurrently', async () => {
    const c = new DocsClient(server.url, collName(`chord_${transport}`));
    await c.insert([{ _id: 'warm' }]);
    const stream = await open(transport, c.coll);
    const ids = idsAcrossShards(`o-${transport}-`, SHARDS, 16);
    const STEPS = 10;
    try {
      await Promise.all(
        ids.map(async (id) => {
          await c.insert([{ _id: id, n: 0 }]);
          for (let step = 1; step <= STEPS; step++) await c.update({ filter: { _id: id }, update: { $inc: { n: 1 } } });
          await expectOk(await c.deleteById(id));
        }),
      );
      const changes = await stream.take(ids.length * (STEPS + 2), 20_000);
      const byDoc = perDocument(changes);
      for (const id of ids) {
        expect(byDoc.get(JSON.stringify(id))?.map((ch) => (ch.op === 'update' ? ch.updated?.n : ch.op)), id).toEqual(['insert', ...Array.from({ length: STEPS }, (_, i) => i + 1), 'delete']);
      }
    } finally {
      stream.close();
    }
  });

  it('resumes from a token after a reconnect with exactly the events missed, then live ones', async () => {
    const c = new DocsClient(server.url, collName(`chres_${transport}`));
    await c.insert([{ _id: 'warm' }]);
    const ids = idsAcrossShards(`res-${transport}-`, SHARDS, 8);
    const first = await open(transport, c.coll);
    let seen: Change[];
    try {
      await c.insert(ids.slice(0, 6).map((id) => ({ _id: id, phase: 1 })));
      seen = await first.take(6);
    } finally {
      first.close();
    }
    // Resume after the fourth event: the last two it saw, and everything written while away.
    const resumeAt = seen[3].token;
    await c.insert(ids.slice(6).map((id) => ({ _id: id, phase: 2 })));
    await c.update({ filter: { _id: { $in: ids.slice(0, 4) } }, update: { $set: { phase: 3 } }, multi: true });
    await c.deleteWhere({ _id: ids[0] });
    const missed = 2 + 2 + 4 + 1;

    const second = await open(transport, c.coll, resumeAt);
    try {
      const resumed = await second.take(missed);
      // [document, what its change looks like], in the order each document's changes happened.
      const expected: [Json, unknown][] = [
        ...seen.slice(4).map((ch): [Json, unknown] => [ch.id, shape(ch)]),
        ...ids.slice(6).map((id): [Json, unknown] => [id, { op: 'insert', id, doc: { _id: id, phase: 2 } }]),
        ...ids.slice(0, 4).map((id): [Json, unknown] => [id, expect.objectContaining({ op: 'update', id, updated: { phase: 3 } })]),
        [ids[0], { op: 'delete', id: ids[0] }],
      ];
      expect(resumed).toHaveLength(missed);
      // Shards interleave freely; compare per document (each in its commit order).
      const want = new Map<string, unknown[]>();
      for (const [id, change] of expected) want.set(JSON.stringify(id), [...(want.get(JSON.stringify(id)) ?? []), change]);
      const got = perDocument(resumed);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [id, changes] of want) expect(got.get(id), id).toEqual(changes);
      // Nothing from before the token, nothing twice: the next event is a live one.
      await c.insert([{ _id: 'live' }]);
      expect(shape(await second.next())).toEqual({ op: 'insert', id: 'live', doc: { _id: 'live' } });
      expect(second.changes.unread()).toEqual([]);
    } finally {
      second.close();
    }
  });
});

describe('change stream and transactions', () => {
  it('a committed transaction\'s changes appear once it commits; a rolled-back one\'s never', async () => {
    const c = new DocsClient(server.url, collName('chtxn'));
    await c.insert([{ _id: 'warm', n: 0 }]);
    const stream = await openChangesSse(server.url, c.coll);
    const begin = async (): Promise<string> => (await expectOk<{ id: string }>(await fetch(`${server.url}/api/v1/txn`, { method: 'POST' }))).data.id;
    try {
      const rolled = await begin();
      await c.inTxn(rolled).insert([{ _id: 'never' }]);
      await expectOk(await fetch(`${server.url}/api/v1/txn/${rolled}/rollback`, { method: 'POST' }));
      const committed = await begin();
      await c.inTxn(committed).insert([{ _id: 'kept' }]);
      await c.inTxn(committed).update({ filter: { _id: 'warm' }, update: { $inc: { n: 1 } } });
      expect(stream.changes.unread(), 'nothing is published before the commit').toEqual([]);
      await expectOk(await fetch(`${server.url}/api/v1/txn/${committed}/commit`, { method: 'POST' }));
      const changes = (await stream.take(2)).map(shape);
      expect(changes).toEqual(expect.arrayContaining([{ op: 'insert', id: 'kept', doc: { _id: 'kept' } }, expect.objectContaining({ op: 'update', id: 'warm', updated: { n: 1 } })]));
      await c.insert([{ _id: 'marker' }]);
      expect((await stream.next()).id).toBe('marker');
    } finally {
      stream.close();
    }
  });
});

describe('change stream filter', () => {
  it('?filter= is a query over the change event (operationType, fullDocument fields)', async () => {
    const c = new DocsClient(server.url, collName('chfilt'));
    await c.insert([{ _id: 'warm' }]);
    const deletes = await openChangesSse(server.url, c.coll, { filter: { operationType: 'delete' } });
    const hot = await openChangesSse(server.url, c.coll, { filter: { 'fullDocument.hot': true } });
    try {
      await c.insert([{ _id: 1, hot: false }, { _id: 2, hot: true }]);
      await c.update({ filter: { _id: 1 }, update: { $set: { hot: true } } });
      await c.deleteWhere({ _id: { $in: [1, 2] } });
      expect((await deletes.take(2)).map((ch) => [ch.op, ch.id]).sort()).toEqual([['delete', 1], ['delete', 2]]);
      // The insert was answered before the update was sent: they arrive in that order.
      expect((await hot.take(2)).map((ch) => [ch.op, ch.id])).toEqual([['insert', 2], ['update', 1]]);
      // A marker every stream sees shows nothing else was queued before it.
      await c.insert([{ _id: 'end', hot: true }]);
      await c.deleteWhere({ _id: 'end' });
      expect((await hot.next()).id).toBe('end');
      expect((await deletes.next()).id).toBe('end');
      expect(hot.changes.unread()).toEqual([]);
    } finally {
      deletes.close();
      hot.close();
    }
  });
});

describe('change stream input', () => {
  it('a resume token that is not one is 400; an unknown collection can be watched and reports its first insert', async () => {
    const bad = await fetch(docsUrl(server.url, `/anything/changes?resume_after=${encodeURIComponent('zzz')}`));
    expect(bad.status).toBe(400);
    await bad.text();
    const coll = collName('chnew');
    const stream = await openChangesSse(server.url, coll);
    try {
      await new DocsClient(server.url, coll).insert([{ _id: 1 }]);
      expect(shape(await stream.next())).toEqual({ op: 'insert', id: 1, doc: { _id: 1 } });
    } finally {
      stream.close();
    }
  });
});
