// workers/docs/doc-shard.ts driven directly (no server, no rings): a real
// LsmStore and WAL in a temp dir, ShardOps with the transaction participant as
// its hook, and a stand-in for the actor that logs each command's writes as one
// WAL record and runs the background steps as internal work. Covers the
// catalog, inserts with duplicate _ids, finds by id / index / scan with the
// same results, sliced scans, updates and deletes keeping index entries exact,
// the index backfill across restarts, TTL expiry, drops, and WAL replay.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectId } from 'bson';
import { decodeValue, encodeDoc } from '../../shared/docs/doc-codec.js';
import { indexPrefix } from '../../shared/docs/doc-keys.js';
import { encodeDocCommand } from '../../shared/docs/doc-protocol.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import { MantisError } from '../../shared/errors.js';
import { encodeWriteOps, WAL_KV_OPS } from '../../shared/wire.js';
import type { Undo } from '../../workers/lsm/index.js';
import { keyToBinary } from '../../workers/store/memtable.js';
import { dirs, find, index, info, newShard, open } from '../helpers/doc-shard-harness.js';

const ids = (docs: Doc[]): unknown[] => docs.map((d) => d._id);

function people(n: number): Doc[] {
  const cities = ['NYC', 'LA', 'SF', 'Austin'];
  return Array.from({ length: n }, (_, i) => ({ _id: i, name: `p${i}`, age: 20 + (i % 50), city: cities[i % 4], tags: i % 3 === 0 ? ['a', 'b'] : ['c'], user: { email: `u${i}@x.io` } }));
}

describe('the shard document engine', () => {
  it('inserts, refuses a duplicate _id without applying any of the command, and finds by id', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c') });
    expect(s.run({ op: 'insert', coll: 'c', docs: people(10) })).toMatchObject({ op: 'inserted', count: 10 });
    expect(() => s.run({ op: 'insert', coll: 'c', docs: [{ _id: 100 }, { _id: 3 }] })).toThrow(MantisError);
    expect(find(s, { _id: 100 }).docs).toEqual([]);
    const byId = find(s, { _id: 3 });
    expect(byId.stats.plan).toBe('IDHACK');
    expect(byId.docs).toEqual([people(10)[3]]);
  });

  it('inserts documents sent in their stored form, indexing them when the collection has indexes', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'age_1', [['age', 1]])]) });
    const docs = people(20);
    const sent = { op: 'insert', coll: 'c', docs: [], ids: docs.map((d) => d._id), encoded: docs.map((d) => encodeDoc(d)) } as const;
    expect(s.run(sent)).toMatchObject({ op: 'inserted', count: 20 });
    expect(() => s.run({ ...sent, ids: [5], encoded: [encodeDoc({ _id: 5 })] })).toThrow(MantisError);
    expect(find(s, {}).docs).toEqual(docs);
    const viaIndex = find(s, { age: 25 });
    expect(viaIndex.stats.plan).toBe('IXSCAN');
    expect(ids(viaIndex.docs)).toEqual([5]);
  });

  it('answers the same through an index as by a scan, and keeps entries exact through updates and deletes', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'age_1', [['age', 1]]), index(2, 'tags_1', [['tags', 1]])]) });
    s.run({ op: 'insert', coll: 'c', docs: people(300) });
    const filters: Doc[] = [{ age: 33 }, { age: { $gte: 60 } }, { age: { $in: [21, 22, 69] } }, { tags: 'a' }, { tags: { $in: ['b', 'c'] }, age: { $lt: 25 } }];
    for (const filter of filters) {
      const viaIndex = find(s, filter);
      const viaScan = find(s, filter, { hint: '$natural' });
      expect(viaScan.stats.plan).toBe('COLLSCAN');
      expect(viaIndex.stats.plan).toBe('IXSCAN');
      expect(ids(viaIndex.docs)).toEqual(ids(viaScan.docs));
      expect(viaIndex.docs.length).toBeGreaterThan(0);
    }
    const updated = s.run({ op: 'update', coll: 'c', filter: { age: 33 }, update: { $set: { age: 99 }, $push: { tags: 'z' } }, arrayFilters: null, multi: true, ids: null, returnDoc: null, resume: null, budget_ms: 0 });
    expect(updated).toMatchObject({ op: 'updated', matched: 6, modified: 6 });
    expect(find(s, { age: 33 }).docs).toEqual([]);
    expect(find(s, { age: 99 }).docs).toHaveLength(6);
    expect(find(s, { tags: 'z' }).docs).toHaveLength(6);
    const deleted = s.run({ op: 'delete', coll: 'c', filter: { tags: 'a' }, multi: true, ids: null, returnDoc: false, resume: null, budget_ms: 0 });
    expect(deleted).toMatchObject({ op: 'deleted', deleted: 100 });
    const stats = s.run({ op: 'coll-stats', coll: 'c' });
    expect(stats).toMatchObject({ op: 'coll-stats', count: 200 });
    if (stats.op !== 'coll-stats') throw new Error('stats');
    // One entry per document for age, one per tag for tags (multikey).
    expect(stats.indexes.find((i) => i.name === 'age_1')?.entries).toBe(200);
    const tagEntries = find(s, {}).docs.reduce((n, d) => n + (d.tags as unknown[]).length, 0);
    expect(stats.indexes.find((i) => i.name === 'tags_1')?.entries).toBe(tagEntries);
  });

  it('sorts, limits, projects and pages with `after` across budgeted slices', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c') });
    s.run({ op: 'insert', coll: 'c', docs: people(500) });
    const top = find(s, { city: 'LA' }, { sort: { age: -1 }, limit: 5, projection: { name: 1 } });
    expect(top.docs).toHaveLength(5);
    expect(Object.keys(top.docs[0]).sort()).toEqual(['_id', 'name']);
    expect(top.keys[0][0]).toBe(69);
    // Paging in _id order with `after` visits every matching document once.
    const seen: unknown[] = [];
    let after: Doc[keyof Doc][] | null = null;
    for (;;) {
      const page = find(s, { city: 'SF' }, { limit: 30, after });
      seen.push(...ids(page.docs));
      if (page.docs.length < 30) break;
      after = page.keys[page.keys.length - 1];
    }
    expect(seen).toEqual(people(500).filter((d) => d.city === 'SF').map((d) => d._id));
  });

  it('backfills a new index in steps, and a restart goes on from where the backfill was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantis-docshard-'));
    dirs.push(dir);
    let s = newShard(dir);
    s.run({ op: 'catalog-put', info: info('c') });
    s.run({ op: 'insert', coll: 'c', docs: people(5000) });
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'email', [['user.email', 1]], { state: 'building' })], 2) });
    s.docs.background.catalogChanged(Date.now());
    // One step indexes at most 2000 documents: the build is not done yet.
    const undo: Undo[] = [];
    const first = s.docs.background.step(Date.now(), undo);
    s.wal.append([{ type: WAL_KV_OPS, payload: encodeWriteOps(first.writes) }]);
    expect(first.more).toBe(true);
    // A write during the build is indexed by the write path.
    s.run({ op: 'insert', coll: 'c', docs: [{ _id: 9999, user: { email: 'late@x.io' } }] });
    await s.close();
    open.splice(open.indexOf(s), 1);
    s = newShard(dir);
    s.background();
    const stats = s.run({ op: 'coll-stats', coll: 'c' });
    if (stats.op !== 'coll-stats') throw new Error('stats');
    expect(stats.indexes).toEqual([{ name: 'email', entries: 5001, built: true }]);
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'email', [['user.email', 1]])], 3) });
    const hit = find(s, { 'user.email': 'u4321@x.io' });
    expect(hit.stats.plan).toBe('IXSCAN');
    expect(ids(hit.docs)).toEqual([4321]);
  });

  it('fails a backfill that meets a document the index cannot hold, says why, and TTL expiry goes on', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'exp', [['at', 1]], { ttlSeconds: 0 })]) });
    s.run({ op: 'insert', coll: 'c', docs: [{ _id: 1, a: [1, 2], b: [3, 4] }, { _id: 2, at: new Date(Date.now() - 1000) }] });
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'exp', [['at', 1]], { ttlSeconds: 0 }), index(2, 'ab', [['a', 1], ['b', 1]], { state: 'building' })], 2) });
    s.docs.background.catalogChanged(Date.now());
    s.background();
    const stats = s.run({ op: 'coll-stats', coll: 'c' });
    if (stats.op !== 'coll-stats') throw new Error('stats');
    const ab = stats.indexes.find((i) => i.name === 'ab');
    expect(ab?.built).toBe(false);
    expect(ab?.error).toMatch(/parallel arrays/);
    expect(ids(find(s, {}).docs)).toEqual([1]);
    // The failed build is not retried: a later step has nothing to do.
    expect(s.docs.background.busy()).toBe(false);
  });

  it('expires documents through a TTL index and reports each as a delete', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'exp', [['at', 1]], { ttlSeconds: 0 })]) });
    const past = new Date(Date.now() - 1000);
    const future = new Date(Date.now() + 3_600_000);
    s.run({ op: 'insert', coll: 'c', docs: [{ _id: 1, at: past }, { _id: 2, at: future }, { _id: 3, at: 'not a date' }, { _id: 4, at: [future, past] }] });
    s.background();
    expect(ids(find(s, {}).docs)).toEqual([2, 3]);
    expect(s.posted.map((c) => [c.op, c.id])).toEqual([
      ['delete', 1],
      ['delete', 4],
    ]);
  });

  it('drops a collection with its keys, and a re-created one starts empty', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'age_1', [['age', 1]])]) });
    s.run({ op: 'insert', coll: 'c', docs: people(50) });
    s.run({ op: 'catalog-drop', name: 'c', id: 7 });
    s.background();
    expect(s.store.count(keyToBinary(indexPrefix(7, 1)), Date.now())).toBe(0);
    s.run({ op: 'catalog-put', info: { ...info('c'), id: 8 } });
    expect(find(s, {}).docs).toEqual([]);
  });

  it('reports a collection it dropped and refuses to bring that id back until its keys are gone', () => {
    const s = newShard();
    s.run({ op: 'catalog-put', info: info('c') });
    s.run({ op: 'insert', coll: 'c', docs: people(20) });
    s.run({ op: 'catalog-drop', name: 'c', id: 7 });
    expect(s.run({ op: 'catalog-get' })).toMatchObject({ op: 'catalog', collections: [], dropped: [7] });
    expect(() => s.run({ op: 'catalog-put', info: info('c', [], 5) })).toThrow(/dropped/);
    s.background();
    // Done, and still reported: a router reconciling later must learn of the drop.
    expect(s.run({ op: 'catalog-get' })).toMatchObject({ op: 'catalog', collections: [], dropped: [7] });
    expect(() => s.run({ op: 'catalog-put', info: info('c', [], 5) })).toThrow(/dropped/);
  });

  it('replays documents, index entries and the catalog from the WAL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantis-docshard-'));
    dirs.push(dir);
    let s = newShard(dir);
    s.run({ op: 'catalog-put', info: info('c', [index(1, 'city_1', [['city', 1]])]) });
    const oid = new ObjectId();
    s.run({ op: 'insert', coll: 'c', docs: [...people(20), { _id: oid, city: 'Rome', when: new Date(5), big: 2n ** 60n }] });
    await s.close();
    open.splice(open.indexOf(s), 1);
    s = newShard(dir);
    const catalog = s.run({ op: 'catalog-get' });
    expect(catalog).toMatchObject({ op: 'catalog', collections: [{ name: 'c', id: 7 }] });
    const rome = find(s, { city: 'Rome' });
    expect(rome.stats.plan).toBe('IXSCAN');
    expect(rome.docs).toEqual([{ _id: oid, city: 'Rome', when: new Date(5), big: 2n ** 60n }]);
    expect(decodeValue(encodeDocCommand({ op: 'catalog-get' }))).toEqual({ op: 'catalog-get' });
  });
});
