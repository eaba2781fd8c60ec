// kill -9 during concurrent inserts and updates into a collection with
// secondary indexes (--fsync always, 2 shards), and during inserts into one
// with a unique index. After the restart every acknowledged document is there
// with its content, an unacknowledged one is there whole or not at all, an
// acknowledged update holds (or a later one that was in flight), and every
// index agrees with a collection scan: the same documents through IXSCAN as
// through a filter the planner cannot serve from an index, one entry per
// document, and one key examined per document an equality returns (no entry
// lost, none left stale). With a unique index, a value is taken exactly when
// a document holding it survived: no orphan global entry blocks a value, and
// none is missing.

import { Agent } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOk, rawRequest } from '../helpers/http-client.js';
import { cleanup, startServer } from '../helpers/server-process.js';
import { DocsClient, collName, explain, explainTotals, idsOf, indexesOf, prng, type JsonDoc } from '../helpers/docs-client.js';

const SHARDS = 2;
const WORKERS = 32;
const KILL_AFTER_DOCS = 1500;
const SEEDED = 400;
/** Unique-index inserts go through two-phase commit: fewer before the kill. */
const KILL_AFTER_UNIQUE = 300;

type Written = {
  /** Every insert sent: id → document. */
  readonly sent: Map<string, JsonDoc>;
  readonly acked: Set<string>;
  /** Seeded documents: the k of the last acknowledged update, and of one in flight at the kill. */
  readonly lastAckedK: Map<string, number>;
  readonly inflightK: Map<string, number>;
};

const agent = new Agent({ keepAlive: true, maxSockets: WORKERS });

afterAll(async () => {
  agent.destroy();
  await cleanup();
});

/** POST without throwing on a dead server: the status, or 0 when the connection failed. */
async function tryPost(c: DocsClient, action: string, body: JsonDoc): Promise<number> {
  const bytes = Buffer.from(JSON.stringify(body));
  try {
    const response = await rawRequest({
      url: `${c.base}/api/v1/docs/${c.coll}/${action}`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
      chunks: [bytes],
      agent,
      timeoutMs: 30_000,
    });
    return response.status;
  } catch {
    return 0;
  }
}

/** Each worker inserts small batches and updates its own share of the seeded documents until the server dies. */
async function writeUntilKilled(c: DocsClient, onAckedDocs: (acked: number) => void): Promise<Written> {
  const written: Written = { sent: new Map(), acked: new Set(), lastAckedK: new Map(), inflightK: new Map() };
  let alive = true;
  const worker = async (w: number): Promise<void> => {
    const rnd = prng(1000 + w);
    for (let n = 0; alive; n++) {
      if (n % 3 === 2) {
        const id = `seed-${(w + WORKERS * (n % Math.floor(SEEDED / WORKERS))) % SEEDED}`;
        const k = Math.floor(rnd() * 1000);
        written.inflightK.set(id, k);
        const status = await tryPost(c, 'update', { filter: { _id: id }, update: { $set: { k } } });
        if (status === 200) {
          written.lastAckedK.set(id, k);
          written.inflightK.delete(id);
        } else alive = false;
        continue;
      }
      const docs = Array.from({ length: 1 + Math.floor(rnd() * 5) }, (_, j): JsonDoc => ({ _id: `w${w}-${n}-${j}`, k: Math.floor(rnd() * 1000), g: 'abcde'[Math.floor(rnd() * 5)], w }));
      for (const d of docs) written.sent.set(String(d._id), d);
      const status = await tryPost(c, 'insert', { documents: docs });
      if (status !== 200) {
        alive = false;
        return;
      }
      for (const d of docs) written.acked.add(String(d._id));
      onAckedDocs(written.acked.size);
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return written;
}

/** Documents by _id, fetched with $in in chunks. */
async function fetchByIds(c: DocsClient, ids: readonly string[]): Promise<Map<string, JsonDoc>> {
  const found = new Map<string, JsonDoc>();
  for (let at = 0; at < ids.length; at += 500) {
    for (const doc of await c.findAll({ filter: { _id: { $in: ids.slice(at, at + 500) } } })) found.set(String(doc._id), doc);
  }
  return found;
}

/**
 * The same query through the index (asserted IXSCAN) and through a collection scan ($expr, which
 * no index serves): the same documents. With `exact` (an equality: the index bounds are exact),
 * also one key examined per document returned — no stale entry in the index.
 */
async function expectIndexAgrees(c: DocsClient, indexed: JsonDoc, scanned: JsonDoc, index: string, exact: boolean): Promise<number> {
  const plans = await explain(c, { filter: indexed, limit: 1000 });
  expect(plans.every((p) => p.plan === 'IXSCAN' && p.index === index), JSON.stringify(plans)).toBe(true);
  const scanPlans = await explain(c, { filter: scanned, limit: 1000 });
  expect(scanPlans.every((p) => p.plan === 'COLLSCAN'), JSON.stringify(scanPlans)).toBe(true);
  const viaIndex = idsOf(await c.findAll({ filter: indexed }));
  const viaScan = idsOf(await c.findAll({ filter: scanned }));
  expect(viaIndex, `${JSON.stringify(indexed)}: index vs collection scan`).toEqual(viaScan);
  expect(viaScan.length, 'a query small enough for one explain').toBeLessThan(1000);
  const totals = explainTotals(plans);
  expect(totals.returned).toBe(viaScan.length);
  if (exact) expect(totals.keysExamined, `${JSON.stringify(indexed)}: index keys examined vs documents`).toBe(viaScan.length);
  return viaScan.length;
}

/** Entries of each index as GET /api/v1/docs/<c> counts them (summed over the shards). */
async function indexEntries(c: DocsClient): Promise<Record<string, unknown>> {
  return Object.fromEntries((await indexesOf(c)).map((i) => [i.name, i.entries]));
}

describe('kill -9 during inserts into an indexed collection', () => {
  it('keeps every acknowledged document and update, and every index agrees with a collection scan', async () => {
    const server = await startServer({ shards: SHARDS, fsync: 'always' });
    const c = new DocsClient(server.url, collName('crash'));
    await c.insert(Array.from({ length: SEEDED }, (_, i) => ({ _id: `seed-${i}`, k: i % 1000, g: 'abcde'[i % 5], w: -1 })));
    await expectOk(await c.createIndex({ name: 'k_1', keys: { k: 1 } }));
    await expectOk(await c.createIndex({ name: 'g_k', keys: { g: 1, k: -1 } }));

    let killed: Promise<void> | null = null;
    const written = await writeUntilKilled(c, (acked) => {
      if (acked >= KILL_AFTER_DOCS && killed === null) killed = server.kill9();
    });
    expect(killed, 'the server was never killed').not.toBeNull();
    await killed;
    expect(written.acked.size).toBeGreaterThanOrEqual(KILL_AFTER_DOCS);

    const restarted = await startServer({ dataDir: server.dataDir, fsync: 'always' });
    const r = new DocsClient(restarted.url, c.coll);
    const found = await fetchByIds(r, [...written.sent.keys()]);
    const problems: string[] = [];
    for (const [id, doc] of written.sent) {
      const got = found.get(id);
      if (got === undefined) {
        if (written.acked.has(id)) problems.push(`${id}: acknowledged but missing`);
      } else if (JSON.stringify(got) !== JSON.stringify(doc)) problems.push(`${id}: ${JSON.stringify(got)} != ${JSON.stringify(doc)}`);
    }
    const seeds = await fetchByIds(r, Array.from({ length: SEEDED }, (_, i) => `seed-${i}`));
    expect(seeds.size).toBe(SEEDED);
    for (let i = 0; i < SEEDED; i++) {
      const id = `seed-${i}`;
      const k = written.lastAckedK.get(id) ?? i % 1000;
      const now = seeds.get(id)?.k;
      if (now !== k && now !== written.inflightK.get(id)) problems.push(`${id}: k=${now}, last acknowledged ${k}, in flight ${written.inflightK.get(id)}`);
    }
    expect(problems.slice(0, 20), `${problems.length} problems after restart`).toEqual([]);

    const total = (await r.findAll({ filter: {} })).length;
    expect(total).toBe(SEEDED + found.size);
    // One entry per document in every index (each document has k and g): none lost, none stale.
    expect(await indexEntries(r)).toEqual({ _id_: total, k_1: total, g_k: total });
    // The whole index, in ranges of k small enough for one explain (it runs up to limit 1000).
    let covered = 0;
    for (let lo = 0; lo < 1000; lo += 100) {
      const hi = lo + 100;
      covered += await expectIndexAgrees(r, { k: { $gte: lo, $lt: hi } }, { $expr: { $and: [{ $gte: ['$k', lo] }, { $lt: ['$k', hi] }] } }, 'k_1', false);
    }
    expect(covered).toBe(total);
    for (const k of [0, 7, 500, 999]) await expectIndexAgrees(r, { k }, { $expr: { $eq: ['$k', k] } }, 'k_1', true);
    for (const g of ['a', 'e']) await expectIndexAgrees(r, { g }, { $expr: { $eq: ['$g', g] } }, 'g_k', true);
    expect(await restarted.stop()).toBe(0);
  });
});

describe('kill -9 during inserts into a collection with a unique index', () => {
  it('keeps every acknowledged document; a value is taken exactly when its document exists', async () => {
    const server = await startServer({ shards: SHARDS, fsync: 'always' });
    const c = new DocsClient(server.url, collName('crashu'));
    await c.insert([{ _id: 'seed', email: 'seed@x' }]);
    await expectOk(await c.createIndex({ name: 'email_u', keys: { email: 1 }, unique: true }));

    const sent = new Map<string, string>();
    const acked = new Set<string>();
    let killed: Promise<void> | null = null;
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        for (let n = 0; ; n++) {
          const id = `u${w}-${n}`;
          sent.set(id, `${id}@x`);
          if ((await tryPost(c, 'insert', { documents: [{ _id: id, email: `${id}@x` }] })) !== 200) return;
          acked.add(id);
          if (acked.size >= KILL_AFTER_UNIQUE && killed === null) killed = server.kill9();
        }
      }),
    );
    expect(killed, 'the server was never killed').not.toBeNull();
    await killed;

    const restarted = await startServer({ dataDir: server.dataDir, fsync: 'always' });
    const r = new DocsClient(restarted.url, c.coll);
    const found = await fetchByIds(r, [...sent.keys()]);
    const problems: string[] = [];
    for (const id of acked) if (!found.has(id)) problems.push(`${id}: acknowledged but missing`);
    // Each value: taken (409) when its document is there, free (200) when it is not — no orphan entry.
    await Promise.all(
      [...sent].map(async ([id, email]) => {
        const status = await tryPost(r, 'insert', { documents: [{ _id: `probe-${id}`, email }] });
        const want = found.has(id) ? 409 : 200;
        if (status !== want) problems.push(`${email}: insert answered ${status}, document ${found.has(id) ? 'present' : 'absent'}`);
      }),
    );
    expect(problems.slice(0, 20), `${problems.length} problems after restart`).toEqual([]);
    expect(await restarted.stop()).toBe(0);
  });
});
