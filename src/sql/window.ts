// Window functions: the input rows sorted by (partition keys, order keys),
// each row extended with one value per window function. Frames follow
// PostgreSQL's frameOptions bits (ROWS / RANGE / GROUPS, UNBOUNDED, CURRENT
// ROW, offset PRECEDING / FOLLOWING, EXCLUDE …).

import { compareValues } from './sql-cast.js';
import type { Compiled, Env } from './ir.js';
import { groupKey, makeAcc, PlanNode, rowComparator, type Row, type SortKey } from './plan.js';
import { sqlError } from './sql-errors.js';
import type { SqlType, Value } from './sql-types.js';
import { resolveOperator } from './sql-operators.js';

export const FRAME = {
  NONDEFAULT: 0x1,
  RANGE: 0x2,
  ROWS: 0x4,
  GROUPS: 0x8,
  BETWEEN: 0x10,
  START_UNBOUNDED_PRECEDING: 0x20,
  END_UNBOUNDED_PRECEDING: 0x40,
  START_UNBOUNDED_FOLLOWING: 0x80,
  END_UNBOUNDED_FOLLOWING: 0x100,
  START_CURRENT_ROW: 0x200,
  END_CURRENT_ROW: 0x400,
  START_OFFSET_PRECEDING: 0x800,
  END_OFFSET_PRECEDING: 0x1000,
  START_OFFSET_FOLLOWING: 0x2000,
  END_OFFSET_FOLLOWING: 0x4000,
  EXCLUDE_CURRENT_ROW: 0x8000,
  EXCLUDE_GROUP: 0x10000,
  EXCLUDE_TIES: 0x20000,
} as const;

export type WindowSpec = {
  readonly fn: string;
  readonly args: Compiled[];
  readonly argTypes: SqlType[];
  readonly star: boolean;
  readonly isAgg: boolean;
  readonly filter: Compiled | null;
  readonly partition: Compiled[];
  readonly partitionTypes: SqlType[];
  readonly order: SortKey[];
  readonly frameOptions: number;
  readonly startOffset: Compiled | null;
  readonly endOffset: Compiled | null;
  readonly type: SqlType;
  readonly text: string;
};

export class WindowNode extends PlanNode {
  readonly name = 'WindowAgg';
  constructor(
    readonly child: PlanNode,
    readonly specs: WindowSpec[],
  ) {
    super([...child.cols, ...specs.map((s) => ({ name: s.fn, type: s.type, rel: null }))]);
    this.children = [child];
    this.estRows = child.estRows;
  }

  protected exec(env: Env): Row[] {
    const input = this.child.run(env);
    const out: Row[] = input.map((r) => [...r]);
    for (const spec of this.specs) {
      const vals = computeWindow(spec, input, env);
      for (let i = 0; i < out.length; i++) out[i].push(vals[i]);
    }
    return out;
  }
}

/** One window function's value for every input row (in input order). */
function computeWindow(spec: WindowSpec, input: Row[], env: Env): Value[] {
  const result = new Array<Value>(input.length).fill(null);
  // Sort positions by partition, then order keys (stable).
  const decorated = input.map((r, i) => ({
    i,
    p: groupKey(
      spec.partition.map((f) => f(r, env)),
      spec.partitionTypes,
    ),
    k: spec.order.map((o) => o.f(r, env)),
  }));
  const partitions = new Map<string | number, typeof decorated>();
  for (const d of decorated) {
    const list = partitions.get(d.p);
    if (list === undefined) partitions.set(d.p, [d]);
    else list.push(d);
  }
  const cmp = rowComparator(spec.order, env);
  for (const part of partitions.values()) {
    env.check();
    part.sort((a, b) => cmp(a, b) || a.i - b.i);
    const rows = part.map((d) => input[d.i]);
    // Peer groups: rows equal on the order keys.
    const peerStart = new Array<number>(part.length);
    const peerEnd = new Array<number>(part.length);
    const groupNo = new Array<number>(part.length);
    let g = 0;
    for (let j = 0; j < part.length; j++) {
      if (j > 0 && cmp(part[j - 1], part[j]) === 0) {
        peerStart[j] = peerStart[j - 1];
        groupNo[j] = g;
      } else {
        peerStart[j] = j;
        if (j > 0) g++;
        groupNo[j] = g;
      }
    }
    for (let j = part.length - 1; j >= 0; j--) peerEnd[j] = j + 1 < part.length && peerStart[j + 1] === peerStart[j] ? peerEnd[j + 1] : j;
    const vals = windowValues(spec, rows, part, peerStart, peerEnd, groupNo, env);
    for (let j = 0; j < part.length; j++) result[part[j].i] = vals[j];
  }
  return result;
}

function windowValues(
  spec: WindowSpec,
  rows: Row[],
  part: { k: Value[] }[],
  peerStart: number[],
  peerEnd: number[],
  groupNo: number[],
  env: Env,
): Value[] {
  const n = rows.length;
  const out = new Array<Value>(n).fill(null);
  const arg = (j: number, a: number): Value => spec.args[a](rows[j], env);
  switch (spec.fn) {
    case 'row_number':
      for (let j = 0; j < n; j++) out[j] = j + 1;
      return out;
    case 'rank':
      for (let j = 0; j < n; j++) out[j] = peerStart[j] + 1;
      return out;
    case 'dense_rank':
      for (let j = 0; j < n; j++) out[j] = groupNo[j] + 1;
      return out;
    case 'percent_rank':
      for (let j = 0; j < n; j++) out[j] = n > 1 ? peerStart[j] / (n - 1) : 0;
      return out;
    case 'cume_dist':
      for (let j = 0; j < n; j++) out[j] = (peerEnd[j] + 1) / n;
      return out;
    case 'ntile': {
      for (let j = 0; j < n; j++) {
        const b = arg(j, 0);
        if (b === null) {
          out[j] = null;
          continue;
        }
        const buckets = Number(b);
        if (buckets <= 0) throw sqlError('22014', 'argument of ntile must be greater than zero');
        const size = Math.floor(n / buckets);
        const extra = n % buckets;
        // The first `extra` buckets hold size + 1 rows.
        const big = extra * (size + 1);
        out[j] = j < big ? Math.floor(j / (size + 1)) + 1 : size === 0 ? j + 1 : extra + Math.floor((j - big) / size) + 1;
      }
      return out;
    }
    case 'lag':
    case 'lead': {
      const dir = spec.fn === 'lag' ? -1 : 1;
      for (let j = 0; j < n; j++) {
        const offV = spec.args.length > 1 ? arg(j, 1) : 1;
        if (offV === null) {
          out[j] = null;
          continue;
        }
        const t = j + dir * Number(offV);
        out[j] = t >= 0 && t < n ? arg(t, 0) : spec.args.length > 2 ? arg(j, 2) : null;
      }
      return out;
    }
    default:
      break;
  }
  // Frame-based: first_value, last_value, nth_value and aggregates.
  const bounds = frameBounds(spec, rows, part, peerStart, peerEnd, groupNo, env);
  const f = spec.frameOptions;
  const excluding = (f & (FRAME.EXCLUDE_CURRENT_ROW | FRAME.EXCLUDE_GROUP | FRAME.EXCLUDE_TIES)) !== 0;
  const members = (j: number): number[] => {
    const [s, e] = bounds[j];
    const list: number[] = [];
    for (let t = s; t < e; t++) {
      if (excluding) {
        if (f & FRAME.EXCLUDE_CURRENT_ROW && t === j) continue;
        if (f & FRAME.EXCLUDE_GROUP && t >= peerStart[j] && t <= peerEnd[j]) continue;
        if (f & FRAME.EXCLUDE_TIES && t !== j && t >= peerStart[j] && t <= peerEnd[j]) continue;
      }
      list.push(t);
    }
    return list;
  };
  if (spec.fn === 'first_value' || spec.fn === 'last_value' || spec.fn === 'nth_value') {
    for (let j = 0; j < n; j++) {
      const m = members(j);
      if (spec.fn === 'first_value') out[j] = m.length > 0 ? arg(m[0], 0) : null;
      else if (spec.fn === 'last_value') out[j] = m.length > 0 ? arg(m[m.length - 1], 0) : null;
      else {
        const nth = arg(j, 1);
        if (nth === null) continue;
        const k = Number(nth);
        if (k <= 0) throw sqlError('22016', 'argument of nth_value must be greater than zero');
        out[j] = k <= m.length ? arg(m[k - 1], 0) : null;
      }
    }
    return out;
  }
  if (!spec.isAgg) throw new Error(`assertion failed: unknown window function ${spec.fn}`);
  const argsAt = (t: number): Value[] => spec.args.map((a) => a(rows[t], env));
  const passes = (t: number): boolean => spec.filter === null || spec.filter(rows[t], env) === true;
  // Frames starting at the partition's first row and ending monotonically: one running accumulator.
  const running = (f & FRAME.START_UNBOUNDED_PRECEDING) !== 0 && !excluding;
  if (running) {
    const acc = makeAcc(spec);
    let end = 0;
    for (let j = 0; j < n; j++) {
      const e = bounds[j][1];
      while (end < e) {
        if (passes(end)) acc.add(argsAt(end));
        end++;
      }
      out[j] = acc.result();
    }
    return out;
  }
  for (let j = 0; j < n; j++) {
    if ((j & 255) === 255) env.check();
    const acc = makeAcc(spec);
    for (const t of members(j)) if (passes(t)) acc.add(argsAt(t));
    out[j] = acc.result();
  }
  return out;
}

/** [start, end) of every row's frame within its partition. */
function frameBounds(
  spec: WindowSpec,
  rows: Row[],
  part: { k: Value[] }[],
  peerStart: number[],
  peerEnd: number[],
  groupNo: number[],
  env: Env,
): [number, number][] {
  const n = rows.length;
  const f = spec.frameOptions;
  const out: [number, number][] = [];
  const offset = (c: Compiled | null, j: number, what: string): Value => {
    const v = c === null ? null : c(rows[j], env);
    if (v === null) throw sqlError('22004', `frame ${what} offset must not be null`);
    if (typeof v === 'number' && v < 0) throw sqlError('22013', `frame ${what} offset must not be negative`);
    return v;
  };
  // Group boundaries for GROUPS mode.
  const groupFirst: number[] = [];
  for (let j = 0; j < n; j++) if (peerStart[j] === j) groupFirst.push(j);
  const groupLastEnd = (gi: number): number => (gi + 1 < groupFirst.length ? groupFirst[gi + 1] : n);
  const rangeMode = (f & FRAME.RANGE) !== 0;
  const rowsMode = (f & FRAME.ROWS) !== 0;
  const hasOrder = spec.order.length > 0;
  for (let j = 0; j < n; j++) {
    let s: number;
    let e: number;
    // start
    if (f & FRAME.START_UNBOUNDED_PRECEDING) s = 0;
    else if (f & FRAME.START_CURRENT_ROW) s = rowsMode ? j : peerStart[j];
    else if (f & (FRAME.START_OFFSET_PRECEDING | FRAME.START_OFFSET_FOLLOWING)) {
      const sign = f & FRAME.START_OFFSET_PRECEDING ? -1 : 1;
      const off = offset(spec.startOffset, j, 'starting');
      if (rowsMode) s = j + sign * Number(off);
      else if (rangeMode) s = rangeBound(spec, part, j, sign, off, true);
      else {
        const gi = groupNo[j] + sign * Number(off);
        s = gi < 0 ? 0 : gi >= groupFirst.length ? n : groupFirst[gi];
      }
    } else s = n; // START UNBOUNDED FOLLOWING is refused by the parser
    // end (exclusive)
    if (f & FRAME.END_UNBOUNDED_FOLLOWING) e = n;
    else if (f & FRAME.END_CURRENT_ROW) e = rowsMode ? j + 1 : hasOrder ? peerEnd[j] + 1 : n;
    else if (f & (FRAME.END_OFFSET_PRECEDING | FRAME.END_OFFSET_FOLLOWING)) {
      const sign = f & FRAME.END_OFFSET_PRECEDING ? -1 : 1;
      const off = offset(spec.endOffset, j, 'ending');
      if (rowsMode) e = j + sign * Number(off) + 1;
      else if (rangeMode) e = rangeBound(spec, part, j, sign, off, false);
      else {
        const gi = groupNo[j] + sign * Number(off);
        e = gi < 0 ? 0 : gi >= groupFirst.length ? n : groupLastEnd(gi);
      }
    } else e = n;
    out.push([Math.max(0, Math.min(n, s)), Math.max(0, Math.min(n, e))]);
  }
  return out;
}

/** RANGE offset PRECEDING/FOLLOWING over the single order key: the first row at/after the bound (start) or past it (end). */
function rangeBound(spec: WindowSpec, part: { k: Value[] }[], j: number, sign: number, off: Value, start: boolean): number {
  if (spec.order.length !== 1) throw sqlError('42P20', 'RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column');
  const key = spec.order[0];
  const v = part[j].k[0];
  const n = part.length;
  if (v === null) {
    // NULL rows frame their NULL peers.
    let s = j;
    while (s > 0 && part[s - 1].k[0] === null) s--;
    let e = j;
    while (e < n && part[e].k[0] === null) e++;
    return start ? s : e;
  }
  const desc = key.desc;
  const addOp = resolveOperator(sign * (desc ? -1 : 1) > 0 ? '+' : '-', key.type, key.type === 'date' || key.type === 'timestamp' || key.type === 'timestamptz' ? 'interval' : key.type);
  const bound = addOp.call(v, off);
  const type: SqlType = key.type === 'date' ? 'timestamp' : key.type;
  // Rows are sorted by the key (asc or desc); find the boundary position.
  const before = (x: Value): boolean => {
    if (x === null) return !key.nullsFirst ? false : true;
    const c = compareValues(x, bound, type === 'timestamp' && key.type === 'date' ? 'timestamp' : type);
    return desc ? (start ? c > 0 : c >= 0) : start ? c < 0 : c <= 0;
  };
  let t = 0;
  while (t < n && before(part[t].k[0])) t++;
  return t;
}
