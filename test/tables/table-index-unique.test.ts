// Unique-index claims on one shard's store (workers/tables/table-unique.ts):
// free tuples are taken, tuples held by another key are answered as conflicts
// naming the holder, a retried claim is a no-op, NULLs are never claimed, a
// release frees only what the given key holds, and the entry lives where the
// router sends the claim (valueSlot of the tuple's key bytes).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { slotOfKey } from '../../shared/slot.js';
import { encodeKeyCells } from '../../shared/tables/key-cells.js';
import { valueSlot } from '../../shared/tables/table-keys.js';
import type { ColumnDef, TableInfo } from '../../shared/tables/table-types.js';
import type { DeleteOp, PutOp } from '../../shared/wire.js';
import { LsmStore, runLsmTask, tuningFromBudget } from '../../workers/lsm/index.js';
import { uniqueClaim, uniqueEntryKey, uniqueHolder, uniqueRelease, uniqueSlotOf } from '../../workers/tables/table-unique.js';

const dirs: string[] = [];
const stores: LsmStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newStore(): LsmStore {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-tblunique-'));
  dirs.push(dir);
  const store = LsmStore.open({
    dir: join(dir, 'sst'),
    tuning: { ...tuningFromBudget(1 << 22), memtableBytes: 1 << 20 },
    runTask: (task) => Promise.resolve(runLsmTask(task)),
    log: () => undefined,
    onFlushed: () => undefined,
  });
  stores.push(store);
  return store;
}

function apply(store: LsmStore, writes: (PutOp | DeleteOp)[]): void {
  for (const w of writes) {
    if (w.kind === 'put') store.put(w.key, w.value, w.contentType, w.expiresAtMs);
    else store.delete(w.key);
  }
}

const col = (name: string, type: ColumnDef['type']): ColumnDef => ({ name, type, nullable: true, default: null });

// A CQL-like key: partition (org) + clustering (id DESC), to check key cells come back right.
const info: TableInfo = {
  name: 'users',
  id: 5,
  version: 1,
  createdAtMs: 0,
  columns: [col('org', 'string'), col('id', 'int64'), col('email', 'string'), col('team', 'string'), col('n', 'int64')],
  primaryKey: ['org', 'id'],
  partitionKeyLength: 1,
  keyDesc: [false, true],
  indexes: [
    { id: 1, name: 'email_u', type: 'btree', columns: ['email'], unique: true, state: 'ready' },
    { id: 2, name: 'team_n_u', type: 'hash', columns: ['team', 'n'], unique: true, state: 'ready' },
    { id: 3, name: 'team', type: 'btree', columns: ['team'], unique: false, state: 'ready' },
  ],
  nextIndexId: 4,
  defaultTtlSeconds: 0,
  cql: false,
};

describe('unique claims', () => {
  it('takes free tuples, answers held ones with their holder, and a retried claim changes nothing', () => {
    const store = newStore();
    const now = Date.now();
    const first = uniqueClaim(store, info, 1, [
      { values: ['a@x.io'], key: ['acme', 1] },
      { values: ['b@x.io'], key: ['acme', 2n ** 60n] },
    ], now);
    expect(first.conflicts).toEqual([]);
    expect(first.writes).toHaveLength(2);
    apply(store, first.writes);
    expect(uniqueHolder(store, info, 1, ['b@x.io'], now)).toEqual(['acme', 2n ** 60n]);

    const again = uniqueClaim(store, info, 1, [{ values: ['a@x.io'], key: ['acme', 1] }], now);
    expect(again).toEqual({ writes: [], conflicts: [] });

    const clash = uniqueClaim(store, info, 1, [
      { values: ['c@x.io'], key: ['other', 7] },
      { values: ['a@x.io'], key: ['other', 8] },
    ], now);
    expect(clash.conflicts).toEqual([{ entry: 1, key: ['acme', 1] }]);
    // The free tuple is taken (the router releases it if it gives the batch up).
    expect(clash.writes).toHaveLength(1);
    apply(store, clash.writes);
    expect(uniqueHolder(store, info, 1, ['c@x.io'], now)).toEqual(['other', 7]);
  });

  it('a tuple given twice in one claim for two keys: the later one conflicts', () => {
    const store = newStore();
    const r = uniqueClaim(store, info, 2, [
      { values: ['red', 1], key: ['o', 1] },
      { values: ['red', 1], key: ['o', 2] },
      { values: ['red', 1], key: ['o', 1] },
    ], Date.now());
    expect(r.conflicts).toEqual([{ entry: 1, key: ['o', 1] }]);
    expect(r.writes).toHaveLength(1);
  });

  it('never claims a tuple holding NULL (NULLs are distinct)', () => {
    const store = newStore();
    const now = Date.now();
    for (let i = 0; i < 3; i++) {
      const r = uniqueClaim(store, info, 2, [{ values: ['red', null], key: ['o', i] }], now);
      expect(r).toEqual({ writes: [], conflicts: [] });
    }
    expect(uniqueHolder(store, info, 2, ['red', null], now)).toBeNull();
  });

  it('releases only what the given key holds', () => {
    const store = newStore();
    const now = Date.now();
    apply(store, uniqueClaim(store, info, 1, [{ values: ['a@x.io'], key: ['acme', 1] }], now).writes);
    expect(uniqueRelease(store, info, 1, [{ values: ['a@x.io'], key: ['acme', 2] }], now)).toEqual([]);
    expect(uniqueRelease(store, info, 1, [{ values: ['zz@x.io'], key: ['acme', 1] }], now)).toEqual([]);
    const released = uniqueRelease(store, info, 1, [{ values: ['a@x.io'], key: ['acme', 1] }, { values: ['a@x.io'], key: ['acme', 1] }], now);
    expect(released).toHaveLength(1);
    apply(store, released);
    expect(uniqueHolder(store, info, 1, ['a@x.io'], now)).toBeNull();
    // Now free for another key.
    const taken = uniqueClaim(store, info, 1, [{ values: ['a@x.io'], key: ['acme', 2] }], now);
    expect(taken.conflicts).toEqual([]);
  });

  it('places the entry on the slot the router computes from the tuple', () => {
    const values = ['blue', 2n ** 62n];
    const key = uniqueEntryKey(info, info.indexes[1], ['string', 'int64'], values) as Uint8Array;
    const slot = valueSlot(encodeKeyCells(['string', 'int64'], values));
    expect(slotOfKey(key)).toBe(slot);
    expect(uniqueSlotOf(['string', 'int64'], values)).toBe(slot);
    // number and bigint forms of one int64 are one tuple.
    expect(uniqueSlotOf(['int64'], [5])).toBe(uniqueSlotOf(['int64'], [5n]));
  });

  it('refuses indexes that are not unique or unknown, and tuples of the wrong width', () => {
    const store = newStore();
    const now = Date.now();
    expect(() => uniqueClaim(store, info, 3, [{ values: ['t'], key: ['o', 1] }], now)).toThrow(MantisError);
    expect(() => uniqueClaim(store, info, 9, [{ values: ['t'], key: ['o', 1] }], now)).toThrow(/no unique index/);
    expect(() => uniqueClaim(store, info, 2, [{ values: ['t'], key: ['o', 1] }], now)).toThrow(/2 columns/);
    expect(() => uniqueClaim(store, info, 1, [{ values: ['x'.repeat(5000)], key: ['o', 1] }], now)).toThrow(/limit of index keys/);
  });
});
