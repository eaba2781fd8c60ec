// The other data models as SQL relations, so one query can join a table with
// documents and keys:
//
// - a collection `c` is the table c(_id text, doc jsonb): `doc` is the whole
//   document (relaxed extended JSON: ObjectIds, dates and decimals become
//   strings); query it with ->, ->> and @> as PostgreSQL's jsonb;
// - the key-value store is the read-only table kv(key text, value text,
//   content_type text, expires_at timestamptz): values are decoded as UTF-8,
//   expires_at is NULL for keys without a TTL.
//
// Scans page through the model's own listing. Narrowing is pushed where the
// model can do it (documents: `doc @> '{…}'` becomes a find filter, re-checked
// on the router; kv: `key = '…'` is one GET, `key LIKE 'p%'` a prefix listing).

import { toEjson } from '../../shared/docs/ejson.js';
import type { Doc } from '../../shared/docs/doc-types.js';
import type { DocService } from '../docs/doc-service.js';
import type { DocAccess } from '../docs/doc-rls.js';
import type { KvService } from '../kv/kv-service.js';
import { compile, type Env, type Expr } from './ir.js';
import { PrefetchedNode, type ColInfo, type Row } from './plan.js';
import type { ScanHandle, SqlRelation } from './binder.js';
import type { StatementContext } from './scan.js';
import { Jsonb, type SqlType, type Value } from './sql-types.js';

const PAGE = 1000;

/** A relation whose scan is a function of the pushed hints. */
class ModelScan implements ScanHandle {
  readonly node: PrefetchedNode;
  constructor(
    name: string,
    cols: ColInfo[],
    private readonly offer: (conj: Expr) => 'exact' | 'narrow' | 'no',
    fetch: (env: Env) => Promise<Row[]>,
  ) {
    this.node = new PrefetchedNode(name, cols, fetch);
  }
  need(): void {}
  push(conj: Expr): boolean {
    return this.offer(conj) === 'exact';
  }
}

export class CollectionRelation implements SqlRelation {
  readonly cols = [
    { name: '_id', type: 'text' as SqlType, hidden: false },
    { name: 'doc', type: 'jsonb' as SqlType, hidden: false },
  ];
  constructor(
    readonly name: string,
    private readonly docs: DocService,
    private readonly stmt: StatementContext,
    private readonly scans: { node: PrefetchedNode }[],
    /** The caller's access (auth on): its document policies filter every page. */
    private readonly access?: DocAccess,
  ) {}

  makeScan(alias: string): ScanHandle {
    const filters: ((env: Env) => Doc | null)[] = [];
    const cols: ColInfo[] = this.cols.map((c) => ({ name: c.name, type: c.type, rel: alias }));
    const offer = (conj: Expr): 'exact' | 'narrow' | 'no' => {
      // doc @> '{"a": 1}' (a constant or parameter): the same fields as an equality filter. Kept on
      // the router too (Mongo-style equality also matches inside arrays; @> decides).
      if (conj.k === 'op' && conj.op === '@>' && conj.args[0].k === 'col' && conj.args[0].idx === 1 && (conj.args[1].k === 'const' || conj.args[1].k === 'param')) {
        const value = compile(conj.args[1]);
        filters.push((env) => {
          const v = value([], env);
          return v instanceof Jsonb ? containmentFilter(v.value) : null;
        });
        return 'narrow';
      }
      return 'no';
    };
    const scan = new ModelScan(`Collection Scan on ${this.name}${alias !== this.name ? ` ${alias}` : ''}`, cols, offer, async (env) => {
      const filter: Doc = {};
      for (const f of filters) Object.assign(filter, f(env) ?? {});
      const rows: Row[] = [];
      let cursor: string | null = null;
      for (;;) {
        const page = await this.docs.find(this.name, { filter, projection: null, sort: null, skip: 0, limit: PAGE, cursor, hint: null }, this.stmt.txn, this.stmt.deadlineMs, this.access);
        for (const d of page.docs) {
          const json = toEjson(d) as Record<string, unknown>;
          const id = d._id;
          rows.push([typeof id === 'string' ? id : JSON.stringify(toEjson(id as never)).replace(/^"|"$/g, ''), new Jsonb(relaxed(json))]);
        }
        env.check();
        if (page.nextCursor === null || page.docs.length === 0) break;
        cursor = page.nextCursor;
      }
      scan.node.shardInfo = [`Documents: ${rows.length}${Object.keys(filter).length > 0 ? `  Find Filter: ${JSON.stringify(filter)}` : ''}`];
      return rows;
    });
    this.scans.push(scan);
    return scan;
  }
}

/** {"a": {"b": 1}} → {"a.b": 1}; arrays and empty objects are left to the router's @> check. */
function containmentFilter(value: unknown): Doc | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const out: Doc = {};
  const walk = (v: Record<string, unknown>, prefix: string): void => {
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith('$') || k.includes('.')) continue;
      const path = prefix === '' ? k : `${prefix}.${k}`;
      if (x !== null && typeof x === 'object' && !Array.isArray(x)) walk(x as Record<string, unknown>, path);
      else if (x === null || typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isSafeInteger(x))) out[path] = x;
    }
  };
  walk(value as Record<string, unknown>, '');
  return out;
}

/** Extended JSON wrappers ({"$oid": …}, {"$date": …}, {"$numberLong": …}) as plain JSON values. */
function relaxed(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(relaxed);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) {
    const k = keys[0];
    const x = o[k];
    if (k === '$oid' || k === '$numberDecimal' || k === '$symbol') return x;
    if (k === '$numberLong' || k === '$numberInt' || k === '$numberDouble') {
      const n = Number(x);
      return Number.isSafeInteger(n) || !Number.isInteger(n) ? n : x;
    }
    if (k === '$date') return typeof x === 'object' && x !== null && '$numberLong' in x ? new Date(Number((x as { $numberLong: string }).$numberLong)).toISOString() : x;
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = relaxed(o[k]);
  return out;
}

export class KvRelation implements SqlRelation {
  readonly name = 'kv';
  readonly cols = [
    { name: 'key', type: 'text' as SqlType, hidden: false },
    { name: 'value', type: 'text' as SqlType, hidden: false },
    { name: 'content_type', type: 'text' as SqlType, hidden: false },
    { name: 'expires_at', type: 'timestamptz' as SqlType, hidden: false },
  ];
  constructor(
    private readonly kv: KvService,
    private readonly stmt: StatementContext,
    private readonly scans: { node: PrefetchedNode }[],
    /** The keys the caller may read under the KV policies (auth on); absent: every key. */
    private readonly visible?: (key: string) => boolean,
  ) {}

  makeScan(alias: string): ScanHandle {
    let exactKey: ((env: Env) => Value) | null = null;
    let prefix = '';
    const cols: ColInfo[] = this.cols.map((c) => ({ name: c.name, type: c.type, rel: alias }));
    const offer = (conj: Expr): 'exact' | 'narrow' | 'no' => {
      if (conj.k !== 'op' || conj.args.length !== 2 || conj.args[0].k !== 'col' || conj.args[0].idx !== 0) return 'no';
      const rhs = conj.args[1];
      if (conj.op === '=' && (rhs.k === 'const' || rhs.k === 'param') && exactKey === null) {
        const f = compile(rhs);
        exactKey = (env) => f([], env);
        return 'exact';
      }
      if (conj.op === '~~' && rhs.k === 'const' && typeof rhs.value === 'string') {
        const m = /^([^%_\\]*)%$/.exec(rhs.value);
        if (m !== null && m[1].length > prefix.length) {
          prefix = m[1];
          return 'exact';
        }
      }
      return 'no';
    };
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    const scan = new ModelScan(`KV Scan${alias !== 'kv' ? ` on kv ${alias}` : ''}`, cols, offer, async (env) => {
      const rowOf = (key: Uint8Array, v: { contentType: string; expiresAtMs: number; value: Uint8Array }): Row => [
        decoder.decode(key),
        decoder.decode(v.value),
        v.contentType,
        v.expiresAtMs > 0 ? v.expiresAtMs * 1000 : null,
      ];
      if (exactKey !== null) {
        const key = exactKey(env);
        if (typeof key !== 'string' || key === '' || (prefix !== '' && !key.startsWith(prefix))) return [];
        if (this.visible !== undefined && !this.visible(key)) return [];
        const k = encoder.encode(key);
        const v = await this.kv.cmdGet(k, this.stmt.deadlineMs);
        scan.node.shardInfo = ['Key Lookup: 1 GET'];
        return v === null ? [] : [rowOf(k, v)];
      }
      const rows: Row[] = [];
      let cursor: Uint8Array | null = null;
      let lists = 0;
      for (;;) {
        const page = await this.kv.cmdList({ prefix: encoder.encode(prefix), limit: PAGE, offset: 0, cursor }, this.stmt.deadlineMs);
        lists++;
        const values = await this.kv.cmdBatch(page.keys.map((key) => ({ kind: 'get', key })), this.stmt.deadlineMs);
        page.keys.forEach((key, i) => {
          const r = values.results[i];
          if (!(r instanceof Error) && r.kind === 'value' && (this.visible === undefined || this.visible(decoder.decode(key)))) rows.push(rowOf(key, r));
        });
        env.check();
        if (!page.more || page.keys.length === 0) break;
        cursor = page.keys[page.keys.length - 1];
      }
      scan.node.shardInfo = [`Keys: ${rows.length}  Listings: ${lists}${prefix !== '' ? `  Prefix: '${prefix}'` : ''}`];
      return rows;
    });
    this.scans.push(scan);
    return scan;
  }
}
