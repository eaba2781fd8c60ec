// TTL indexes on a real 2-shard server: a document is removed within about a
// second of its expiry (the shard's sweeper; MongoDB allows 60 s), never
// before it, with a delete event on the change stream. Documents whose field
// is in the future, missing or not a date stay; an array of dates expires at
// its earliest; a document moved to a later date before expiry stays; and
// ttl_seconds adds to the field's date.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { DocsClient, collName, date, type JsonDoc } from '../helpers/docs-client.js';
import { idsAcrossShards } from '../helpers/docs-placement.js';
import { openChangesSse, type Change } from '../helpers/docs-streams.js';

afterAll(cleanup);

const SHARDS = 2;
/** "Within 1 s of its expiry", plus what one poll of ours may lag behind the removal. */
const REMOVED_WITHIN_MS = 1000 + 250;
const POLL_MS = 50;

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ shards: SHARDS, fsync: 'batch' });
});

describe('TTL indexes', () => {
  it('remove a document within about 1 s of its expiry, never before, with a delete event on the change stream', async () => {
    const c = new DocsClient(server.url, collName('ttl'));
    await c.insert([{ _id: 'init' }]);
    await expectOk(await c.createIndex({ name: 'exp_ttl', keys: { expireAt: 1 }, ttl_seconds: 0 }));
    await expectOk(await c.createIndex({ name: 'created_ttl', keys: { created: 1 }, ttl_seconds: 2 }));
    const stream = await openChangesSse(server.url, c.coll);
    try {
      const now = Date.now();
      const soon = now + 1500;
      const expiry = new Map<string, number>();
      const expiring = idsAcrossShards('exp-', SHARDS, 10);
      const docs: JsonDoc[] = expiring.map((id) => ({ _id: id, expireAt: date(soon) }));
      for (const id of expiring) expiry.set(id, soon);
      // ttl_seconds 2 on `created`: expires 2 s after the date in the field.
      for (const id of idsAcrossShards('cre-', SHARDS, 4)) {
        docs.push({ _id: id, created: date(now - 500) });
        expiry.set(id, now + 1500);
      }
      docs.push({ _id: 'array', expireAt: [date(now + 3_600_000), date(soon)] });
      expiry.set('array', soon);
      const staying = ['future', 'missing', 'string', 'number', 'extended'];
      docs.push(
        { _id: 'future', expireAt: date(now + 3_600_000) },
        { _id: 'missing', other: date(now - 10_000) },
        { _id: 'string', expireAt: new Date(now - 10_000).toISOString() },
        { _id: 'number', expireAt: now - 10_000 },
        { _id: 'extended', expireAt: date(soon) },
      );
      await c.insert(docs);
      // Moved to a later date before it expires: it must stay.
      await c.update({ filter: { _id: 'extended' }, update: { $set: { expireAt: date(now + 3_600_000) } } });

      const goneAt = new Map<string, number>();
      const early: string[] = [];
      const deadline = Math.max(...expiry.values()) + 5000;
      while (goneAt.size < expiry.size && Date.now() < deadline) {
        const present = new Set((await c.findAll({ filter: { _id: { $in: [...expiry.keys()] } } })).map((d) => String(d._id)));
        const answeredAt = Date.now();
        for (const [id, at] of expiry) {
          if (present.has(id) || goneAt.has(id)) continue;
          goneAt.set(id, answeredAt);
          // A poll answered before the expiry already saw it gone: removed early.
          if (answeredAt < at) early.push(`${id} gone ${at - answeredAt} ms before its expiry`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      expect(early).toEqual([]);
      const late = [...expiry].filter(([id, at]) => !goneAt.has(id) || goneAt.get(id)! - at > REMOVED_WITHIN_MS).map(([id, at]) => `${id}: ${goneAt.has(id) ? `${goneAt.get(id)! - at} ms after expiry` : 'never removed'}`);
      expect(late).toEqual([]);
      expect((await c.findAll({ filter: { _id: { $in: staying } } })).map((d) => d._id).sort()).toEqual([...staying].sort());

      // The change stream reports each removal as a delete.
      const deleted = new Set<string>();
      const seen: Change[] = [];
      while (deleted.size < expiry.size) {
        const change = await stream.next();
        seen.push(change);
        if (change.op === 'delete') deleted.add(String(change.id));
      }
      expect([...deleted].sort()).toEqual([...expiry.keys()].sort());
      expect(seen.filter((ch) => ch.op === 'delete' && staying.includes(String(ch.id)))).toEqual([]);
    } finally {
      stream.close();
    }
  });
});
