// $group: the accumulators and the group table. Every accumulator keeps a
// state that is a plain DocValue, so a shard can send its partial states over
// the ring (doc-codec) and the router merges them: $avg carries [sum, count],
// $first/$last carry [] or [value], $min/$max carry null for "nothing yet".
// The table runs synchronously (shards) and is the unit the router spills.

import { badQuery, compareWithMissing, isNullish, isPlainDoc, orNull, type Node, type Scope, type Value } from './agg-expr-core.js';
import { arith, fromDouble, isNum, toJsNumber, type Num } from './agg-expr-num.js';
import { estimateBytes } from './agg-memory.js';
import type { Doc, DocValue } from './doc-types.js';
import { compileExprNode, type ExprOptions } from './expr.js';
import { valueEqualityKey } from './key-codec.js';

interface Accumulator {
  init(): DocValue;
  /** Adds one input value; may mutate and return the state. */
  add(state: DocValue, v: Value): DocValue;
  /** Folds a later partial state `b` into `a` (a came first in input order). */
  merge(a: DocValue, b: DocValue): DocValue;
  final(state: DocValue): Value;
  /** Whether the state grows with every input (memory accounting). */
  readonly grows: boolean;
}

const sum: Accumulator = {
  init: () => 0,
  add: (s, v) => (isNum(v) ? arith(s as Num, v, 'add') : s),
  merge: (a, b) => arith(a as Num, b as Num, 'add'),
  final: (s) => s,
  grows: false,
};

const avg: Accumulator = {
  init: () => [0, 0],
  add: (s, v) => {
    if (!isNum(v)) return s;
    const st = s as [Num, number];
    return [arith(st[0], v, 'add'), st[1] + 1];
  },
  merge: (a, b) => {
    const [x, y] = [a as [Num, number], b as [Num, number]];
    return [arith(x[0], y[0], 'add'), x[1] + y[1]];
  },
  final: (s) => {
    const [total, count] = s as [Num, number];
    return count === 0 ? null : fromDouble(toJsNumber(total) / count, total);
  },
  grows: false,
};

function extreme(sign: 1 | -1): Accumulator {
  const pick = (a: DocValue, b: Value): DocValue => {
    if (isNullish(b)) return a;
    if (a === null) return b;
    return sign * compareWithMissing(b, a) > 0 ? b : a;
  };
  return { init: () => null, add: pick, merge: pick, final: (s) => s, grows: false };
}

const push: Accumulator = {
  init: () => [],
  add: (s, v) => {
    if (v !== undefined) (s as DocValue[]).push(v);
    return s;
  },
  merge: (a, b) => {
    (a as DocValue[]).push(...(b as DocValue[]));
    return a;
  },
  final: (s) => s,
  grows: true,
};

// $addToSet keeps an equality-key index beside each state array
const setIndex = new WeakMap<DocValue[], Set<string>>();

function indexOf(arr: DocValue[]): Set<string> {
  let idx = setIndex.get(arr);
  if (idx === undefined) {
    idx = new Set(arr.map((e) => valueEqualityKey(e)));
    setIndex.set(arr, idx);
  }
  return idx;
}

function addUnique(arr: DocValue[], v: DocValue): void {
  const idx = indexOf(arr);
  const key = valueEqualityKey(v);
  if (idx.has(key)) return;
  idx.add(key);
  arr.push(v);
}

const addToSet: Accumulator = {
  init: () => [],
  add: (s, v) => {
    if (v !== undefined) addUnique(s as DocValue[], v);
    return s;
  },
  merge: (a, b) => {
    for (const v of b as DocValue[]) addUnique(a as DocValue[], v);
    return a;
  },
  final: (s) => s,
  grows: true,
};

const first: Accumulator = {
  init: () => [],
  add: (s, v) => ((s as DocValue[]).length === 0 ? [orNull(v)] : s),
  merge: (a, b) => ((a as DocValue[]).length === 0 ? b : a),
  final: (s) => ((s as DocValue[]).length === 0 ? null : (s as DocValue[])[0]),
  grows: false,
};

const last: Accumulator = {
  init: () => [],
  add: (_s, v) => [orNull(v)],
  merge: (a, b) => ((b as DocValue[]).length === 0 ? a : b),
  final: (s) => ((s as DocValue[]).length === 0 ? null : (s as DocValue[])[0]),
  grows: false,
};

const mergeObjects: Accumulator = {
  init: () => ({}),
  add: (s, v) => {
    if (isNullish(v)) return s;
    if (!isPlainDoc(v)) throw badQuery('$mergeObjects requires object inputs');
    return Object.assign(s as Doc, v);
  },
  merge: (a, b) => Object.assign(a as Doc, b as Doc),
  final: (s) => s,
  grows: true,
};

const ACCUMULATORS: Readonly<Record<string, Accumulator>> = {
  $sum: sum,
  $count: sum,
  $avg: avg,
  $min: extreme(-1),
  $max: extreme(1),
  $push: push,
  $addToSet: addToSet,
  $first: first,
  $last: last,
  $mergeObjects: mergeObjects,
};

interface CompiledAcc {
  readonly field: string;
  readonly acc: Accumulator;
  readonly arg: Node;
}

export interface CompiledGroup {
  readonly key: Node;
  readonly accs: readonly CompiledAcc[];
}

export function compileGroup(spec: DocValue, options: ExprOptions): CompiledGroup {
  if (!isPlainDoc(spec)) throw badQuery('$group requires an object');
  if (!Object.hasOwn(spec, '_id')) throw badQuery('a group specification must include an _id');
  const accs: CompiledAcc[] = [];
  for (const [field, value] of Object.entries(spec)) {
    if (field === '_id') continue;
    if (field.includes('.') || field.startsWith('$')) throw badQuery(`$group: the field name '${field}' is not allowed`);
    accs.push(compileAccumulator(field, value, options));
  }
  return { key: compileExprNode(spec._id, options), accs };
}

function compileAccumulator(field: string, value: DocValue, options: ExprOptions): CompiledAcc {
  const keys = isPlainDoc(value) ? Object.keys(value) : [];
  if (!isPlainDoc(value) || keys.length !== 1) {
    throw badQuery(`$group: the field '${field}' must be an accumulator object with exactly one operator`);
  }
  const name = keys[0];
  const acc = Object.hasOwn(ACCUMULATORS, name) ? ACCUMULATORS[name] : undefined;
  if (acc === undefined) throw badQuery(`$group: unknown group operator '${name}'`);
  const argSpec = value[name];
  if (name === '$count') {
    if (!isPlainDoc(argSpec) || Object.keys(argSpec).length !== 0) throw badQuery('$count takes no arguments, i.e. $count:{}');
    return { field, acc, arg: compileExprNode(1, options) };
  }
  if (Array.isArray(argSpec)) throw badQuery(`$group: the ${name} accumulator is a unary operator`);
  return { field, acc, arg: compileExprNode(argSpec, options) };
}

interface GroupEntry {
  readonly id: DocValue;
  readonly states: DocValue[];
}

const ENTRY_OVERHEAD_BYTES = 96;

/** Groups keyed by MongoDB equality of _id (1, 1n and 1.0 are one group; missing is null). */
export class GroupTable {
  private groups = new Map<string, GroupEntry>();

  constructor(private readonly group: CompiledGroup) {}

  get size(): number {
    return this.groups.size;
  }

  /** Adds one input document; returns the estimated bytes it added. */
  addDoc(scope: Scope): number {
    const id = orNull(this.group.key(scope));
    const key = valueEqualityKey(id);
    let entry = this.groups.get(key);
    let bytes = 0;
    if (entry === undefined) {
      entry = { id, states: this.group.accs.map((a) => a.acc.init()) };
      this.groups.set(key, entry);
      bytes += ENTRY_OVERHEAD_BYTES + key.length * 2 + estimateBytes(id) + this.group.accs.length * 16;
    }
    const { accs } = this.group;
    for (let i = 0; i < accs.length; i++) {
      const v = accs[i].arg(scope);
      entry.states[i] = accs[i].acc.add(entry.states[i], v);
      if (accs[i].acc.grows) bytes += estimateBytes(v);
    }
    return bytes;
  }

  /** Merges one partial document `{_id, v: states}`; returns the estimated bytes it added. */
  addPartial(doc: Doc): number {
    const id = doc._id;
    const states = doc.v as DocValue[];
    const key = valueEqualityKey(id);
    const entry = this.groups.get(key);
    if (entry === undefined) {
      this.groups.set(key, { id, states: states.slice() });
      return ENTRY_OVERHEAD_BYTES + key.length * 2 + estimateBytes(id) + estimateBytes(states);
    }
    let bytes = 0;
    this.group.accs.forEach((a, i) => {
      entry.states[i] = a.acc.merge(entry.states[i], states[i]);
      if (a.acc.grows) bytes += estimateBytes(states[i]);
    });
    return bytes;
  }

  /** The partial states as plain documents, and empties the table. */
  drainPartials(): Doc[] {
    const out: Doc[] = [];
    for (const e of this.groups.values()) out.push({ _id: e.id, v: e.states });
    this.groups.clear();
    return out;
  }

  /** The finished groups `{_id, <field>: value}`, and empties the table. */
  drainFinals(): Doc[] {
    const out: Doc[] = [];
    const { accs } = this.group;
    for (const e of this.groups.values()) {
      const doc: Doc = { _id: e.id };
      for (let i = 0; i < accs.length; i++) {
        const v = accs[i].acc.final(e.states[i]);
        if (v !== undefined) doc[accs[i].field] = v;
      }
      out.push(doc);
    }
    this.groups.clear();
    return out;
  }

  /** The partition (0..n-1) of a partial document's key, for spilling by hash. */
  static partitionOf(doc: Doc, partitions: number): number {
    return fnv1a(valueEqualityKey(doc._id)) % partitions;
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

