// The binder and planner of queries: a raw parse tree (libpg-query) → a tree of
// router operators (plan.ts) over table scans whose filters, columns and
// aggregates are pushed to the shards where possible (scan.ts).
//
// Names are resolved with PostgreSQL's rules and errors (42P01, 42703, 42702,
// 42803…, each with the AST location of the offending token). Row layouts are
// fixed here: a FROM clause's rows are its items' columns in FROM order (joins
// are left-deep in the written order, so a join's prefix is always the layout
// [0, end)); an aggregate's rows are [aggregates…, representative input row…];
// window values are appended after that.
//
// Row-level security (BindOptions.security) is bound here too: each scan of a
// table under RLS gets the OR of the caller's applicable policies' USING
// (stored text, parsed once, bound over the table's own columns in a fresh
// scope) as part of its filter, so shards, key lookups, aggregates and joins
// only ever see the visible rows. auth.uid(), auth.role(), auth.jwt() and
// current_user are constants of the statement's principal.

import { castValue, commonType } from './sql-cast.js';
import { resolveFunction } from './sql-functions.js';
import { resolveOperator, type OperatorImpl } from './sql-operators.js';
import { sqlError } from './sql-errors.js';
import { INT_TYPES, Interval, Jsonb, NUMERIC_RANK, TYPE_DISPLAY, typeFromName, type SqlType, type Value } from './sql-types.js';
import { andOf, columnsRead, compile, conjuncts, exprText, isCorrelated, mapExpr, walk, type Compiled, type Expr } from './ir.js';
import {
  AggregateNode,
  CteScanNode,
  DistinctNode,
  FilterNode,
  JoinNode,
  LateralJoinNode,
  LimitNode,
  ProjectNode,
  RecursiveUnionNode,
  ResultNode,
  SetOpNode,
  SortNode,
  ValuesNode,
  WorkTableNode,
  type AggSpec,
  type ColInfo,
  type JoinKind,
  type PlanNode,
  type SortKey,
} from './plan.js';
import { WindowNode, type WindowSpec } from './window.js';
import type { PgNode } from './sql-parse.js';
import { bodyOf, kindOf, list, loc, str, type N } from './pg-ast.js';
import { policyAst, type RowCommand } from './sql-security.js';
import { MantisError } from '../../shared/errors.js';
import { SYSTEM } from '../security/principal.js';

// ---- catalog seen by the binder ----

export interface ScanHandle {
  readonly node: PlanNode;
  /** Marks a column (relation-local position) as read. */
  need(col: number): void;
  /** Offers a conjunct over the relation's local layout; true when the scan applies it itself. */
  push(conj: Expr): boolean;
  /** Whether a column (relation-local) is the relation's whole primary key. */
  isKey?(col: number): boolean;
  /** A join column whose values the scan may narrow to the other input's keys (`source` runs first). */
  runtimeIn?(col: number, source: PlanNode, key: Compiled, keyText: string): void;
  /** Offers ORDER BY columns + a LIMIT window: the shards answer only their first rows in that order. */
  pushTopN?(keys: { col: number; desc: boolean }[], window: Compiled): void;
  /** Offers the whole aggregation of a single-table query; a node producing [aggs…, rep row…] or null. */
  pushAggregate?(groups: Expr[], aggs: AggSpec[], aggExprs: { fn: string; arg: Expr | null; star: boolean; distinct: boolean; filter: boolean; order: boolean }[]): PlanNode | null;
}

export type SqlRelation = {
  readonly name: string;
  readonly cols: readonly { readonly name: string; readonly type: SqlType; readonly hidden: boolean }[];
  makeScan(alias: string): ScanHandle;
};

export interface SqlCatalog {
  relation(name: string): SqlRelation | null;
  /** How many scans the statement has made so far, and forgetting those after a mark (an abandoned plan's). */
  scanMark?(): number;
  dropScansAfter?(mark: number): void;
}

/** Row-level security and the auth.* functions, per statement (sql-security.ts StatementSecurity). */
export interface BindSecurity {
  readonly principal: { readonly id: string; readonly sub: string; readonly roles: readonly string[]; readonly claims: Readonly<Record<string, unknown>> };
  /** USING texts of the caller's applicable policies for a command (any passes a row; none: no row does); null: the table is not under RLS for the caller. */
  usingTexts(table: string, command: RowCommand): string[] | null;
}

export type BindOptions = {
  readonly catalog: SqlCatalog;
  /** Absent: no policies apply, and auth.uid()/auth.jwt()/current_user answer the system principal. */
  readonly security?: BindSecurity;
  /** Parameter types, filled as the binder infers them ($1 → index 0). */
  readonly paramTypes: (SqlType | undefined)[];
  /** Bound on rows a WITH RECURSIVE may produce. */
  readonly recursiveRowsMax: number;
};

export type BoundQuery = { readonly plan: PlanNode; readonly cols: ColInfo[] };

const AGGREGATES = new Set(['count', 'sum', 'avg', 'min', 'max', 'string_agg', 'bool_and', 'bool_or', 'every', 'array_agg', 'json_agg', 'jsonb_agg', 'stddev', 'stddev_samp', 'stddev_pop', 'variance', 'var_samp', 'var_pop']);
const WINDOW_ONLY = new Set(['row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value']);

// ---- scopes ----

type Entry = {
  readonly name: string;
  readonly rel: string | null;
  /** Over the scope's layout (before the post-aggregate shift). */
  readonly expr: Expr;
  readonly star: boolean;
  readonly unqualified: boolean;
  /** The scan to tell when the column is read, and its local position. */
  readonly scan: ScanHandle | null;
  readonly local: number;
  /** A hidden column (the _rowid key): never in * or t.*. */
  readonly hidden?: boolean;
};

type AggContext = {
  readonly slots: Map<PgNode, number>;
  readonly specs: (AggSpec | null)[];
  readonly raw: ({ fn: string; arg: Expr | null; star: boolean; distinct: boolean; filter: boolean; order: boolean } | null)[];
  readonly groups: Expr[];
  readonly nAggs: number;
};

type WinContext = { readonly slots: Map<PgNode, number>; readonly specs: (WindowSpec | null)[]; readonly base: number; readonly windows: Map<string, PgNode> };

class Scope {
  entries: Entry[] = [];
  rels = new Set<string>();
  /** Set while binding expressions evaluated on aggregate output rows. */
  agg: AggContext | null = null;
  win: WinContext | null = null;
  /** Row-pushing depth: a subquery's scope is one deeper than its parent; a derived table's is its query's. */
  readonly level: number;
  constructor(
    readonly parent: Scope | null,
    readonly ctes: Map<string, CteDef>,
  ) {
    this.level = parent === null ? 0 : parent.level + 1;
  }
  get shift(): number {
    return this.agg === null ? 0 : this.agg.nAggs;
  }
}

type CteDef = { name: string; cols: ColInfo[]; plan: PlanNode | null; work: WorkTableNode | null; ref: { plan: PlanNode | null; name: string } };

// ---- helpers over the raw tree ----


function notSupported(what: string, location?: number): never {
  throw sqlError('0A000', `${what} is not supported`, location);
}

// ---- the binder ----

export class Binder {
  /** Subqueries being bound (innermost last): their level and whether they read an enclosing row. */
  private readonly frames: { level: number; correlated: boolean }[] = [];
  /** Inside a WITH RECURSIVE step (run once per iteration: no runtime filters there). */
  private recursiveDepth = 0;
  /** Tables whose stored policies are being bound (a policy reaching its own table again is infinite recursion). */
  private readonly policyTables: string[] = [];
  constructor(private readonly o: BindOptions) {}

  // ---- row-level security ----

  /**
   * Row-level security of a scan of `table`: for each command, the OR of the USING expressions of
   * the caller's applicable policies (false when none applies), ANDed, bound over the table's own
   * columns. Conjuncts the scan takes go to the shards with the query's own filter (so counts,
   * aggregates, key lookups and joins never see other rows); the rest are answered, over the
   * relation-local layout, for a router filter right above the scan. Nothing when the table is not
   * under RLS for the caller.
   */
  rowSecurity(table: string, cols: readonly { name: string; type: SqlType; hidden?: boolean }[], scan: ScanHandle, commands: readonly RowCommand[]): Expr[] {
    const sec = this.o.security;
    if (sec === undefined) return [];
    const seen = new Set<string>();
    const parts: Expr[] = [];
    for (const command of commands) {
      const texts = sec.usingTexts(table, command);
      if (texts === null) return [];
      const key = JSON.stringify([...texts].sort());
      if (seen.has(key)) continue;
      seen.add(key);
      parts.push(this.policyOr(table, texts, this.scopeOver(table, cols, scan)));
    }
    const rest: Expr[] = [];
    for (const c of parts.flatMap((p) => conjuncts(p))) {
      if (c.k === 'const') {
        if (c.value === true) continue;
        // Nothing is visible (no applicable policy, or a claim the caller lacks): the scan asks the
        // shards for `key IN ()`, which fetches no row at all.
        if (this.matchNothing(cols, scan)) continue;
      }
      if (hasSubquery(c) || isCorrelated(c) || !scan.push(c)) rest.push(c);
    }
    return rest;
  }

  /** Pushes `col IN ()` (preferably on the key) into a scan; false when the scan takes no such filter. */
  private matchNothing(cols: readonly { name: string; type: SqlType }[], scan: ScanHandle): boolean {
    const order = cols.map((_c, i) => i).sort((a, b) => Number(scan.isKey?.(b) === true) - Number(scan.isKey?.(a) === true));
    for (const i of order) {
      const col: Expr = { k: 'col', idx: i, type: cols[i].type, name: cols[i].name };
      if (scan.push({ k: 'in', arg: col, list: [], eqs: [], neg: false, type: 'bool' })) return true;
    }
    return false;
  }

  /** Any of the stored policy texts, over a whole row of `table` (WITH CHECK of new rows, RETURNING's visibility). */
  policyRow(table: string, texts: readonly string[], cols: readonly { name: string; type: SqlType; hidden?: boolean }[]): Expr {
    return this.policyOr(table, texts, this.scopeOver(table, cols, null));
  }

  /** CREATE POLICY's USING or WITH CHECK, bound over the table's columns as PostgreSQL checks it (42703, 42804, 42803…). */
  policyExpression(node: unknown, table: string, cols: readonly { name: string; type: SqlType; hidden?: boolean }[], clause: 'USING' | 'WITH CHECK'): Expr {
    const n = node as N;
    this.refuseAggregates(n, 'policy expressions');
    return this.coerce(this.expr(n, this.scopeOver(table, cols, null)), 'bool', loc(bodyOf(n)), `argument of POLICY ${clause}`);
  }

  private policyOr(table: string, texts: readonly string[], scope: Scope): Expr {
    if (texts.length === 0) return { k: 'const', value: false, type: 'bool' };
    const parts = texts.map((t) => this.storedPolicy(table, t, scope));
    return parts.length === 1 ? parts[0] : { k: 'or', args: parts, type: 'bool' };
  }

  /** A stored policy text bound in a fresh scope (no CTEs or outer rows of the query: only the table's columns). */
  private storedPolicy(table: string, text: string, scope: Scope): Expr {
    if (this.policyTables.includes(table)) throw sqlError('42P17', `infinite recursion detected in policy for relation "${table}"`);
    this.policyTables.push(table);
    const frames = this.frames.splice(0);
    try {
      return this.coerce(this.expr(policyAst(text), scope), 'bool', undefined, 'argument of POLICY');
    } catch (e) {
      // Positions are in the policy's text, not the query's: drop them, name the policy instead.
      if (!(e instanceof MantisError)) throw e;
      const { byteLocation: _b, position: _p, ...details } = e.details ?? {};
      const message = e.message.includes('row-level security policy') || e.message.includes('infinite recursion') ? e.message : `${e.message} (in a row-level security policy of table "${table}")`;
      throw new MantisError(e.code, message, details);
    } finally {
      this.frames.push(...frames);
      this.policyTables.pop();
    }
  }

  /** Binds a SELECT (or VALUES, set operation, WITH…) statement. */
  bindQuery(stmt: N, parent: Scope | null = null, ctes: Map<string, CteDef> = new Map()): BoundQuery {
    return this.selectStmt(stmt, parent, ctes);
  }

  /** A scope for expressions over given columns (UPDATE/DELETE/INSERT helpers). */
  scopeOver(rel: string, cols: readonly { name: string; type: SqlType; hidden?: boolean }[], scan: ScanHandle | null, offset = 0, ctes: Map<string, CteDef> = new Map()): Scope {
    const s = new Scope(null, ctes);
    s.rels.add(rel);
    cols.forEach((c, i) => {
      s.entries.push({ name: c.name, rel, expr: { k: 'col', idx: offset + i, type: c.type, name: c.name }, star: c.hidden !== true, unqualified: c.hidden !== true, scan, local: i, hidden: c.hidden === true });
    });
    return s;
  }

  addRelation(scope: Scope, rel: string, cols: readonly { name: string; type: SqlType; hidden?: boolean }[], scan: ScanHandle | null, offset: number): void {
    scope.rels.add(rel);
    cols.forEach((c, i) => {
      scope.entries.push({ name: c.name, rel, expr: { k: 'col', idx: offset + i, type: c.type, name: c.name }, star: c.hidden !== true, unqualified: c.hidden !== true, scan, local: i, hidden: c.hidden === true });
    });
  }

  /** `*` or `x.*` over a scope (RETURNING): the columns and their names. */
  star(val: unknown, scope: Scope): { name: string; expr: Expr }[] {
    return this.expandStar(val as N, scope).map((e) => ({ name: e.name, expr: e.expr }));
  }

  expression(node: unknown, scope: Scope): Expr {
    return this.expr(node as N, scope);
  }

  coerceTo(e: Expr, t: SqlType, location?: number): Expr {
    return this.coerce(e, t, location);
  }

  /** Binds a FROM clause into a plan (for UPDATE … FROM and DELETE … USING). */
  fromItems(items: N[], scope: Scope, offset: number): { node: PlanNode | null; width: number; leaves: Leaf[] } {
    const leaves: Leaf[] = [];
    let node: PlanNode | null = null;
    let width = offset;
    for (const item of items) {
      const f = this.fromItem(item, scope, width);
      leaves.push(f);
      const planned = this.planLeaf({ ...f, offset: 0 }, []);
      node = node === null ? planned : new JoinNode('inner', node, planned, [], [], [], null, []);
      width += f.width;
    }
    return { node, width: width - offset, leaves };
  }

  // ---- SELECT ----

  private selectStmt(raw: N, parent: Scope | null, outerCtes: Map<string, CteDef>, keepUnknown = false): BoundQuery {
    const s = (raw.SelectStmt ?? raw) as N;
    const ctes = new Map(outerCtes);
    if (s.withClause !== undefined) this.withClause(s.withClause as N, parent, ctes);
    const op = s.op as string | undefined;
    if (op !== undefined && op !== 'SETOP_NONE') return this.setOperation(s, parent, ctes);
    if (s.valuesLists !== undefined) return this.finishSetLike(this.values(s, parent, ctes, keepUnknown), s, parent, ctes);
    return this.simpleSelect(s, parent, ctes, keepUnknown);
  }

  /** The CTEs of a WITH clause on INSERT/UPDATE/DELETE. */
  withCtes(w: unknown): Map<string, CteDef> {
    const ctes = new Map<string, CteDef>();
    if (w !== undefined) this.withClause(w as N, null, ctes);
    return ctes;
  }

  private withClause(w: N, parent: Scope | null, ctes: Map<string, CteDef>): void {
    const recursive = w.recursive === true;
    const names = new Set<string>();
    for (const c of list(w.ctes)) {
      const n = (c.CommonTableExpr as N).ctename as string;
      if (names.has(n)) throw sqlError('42712', `WITH query name "${n}" specified more than once`, loc(c.CommonTableExpr as N), 'SQL_DUPLICATE_OBJECT');
      names.add(n);
    }
    for (const c of list(w.ctes)) {
      const cte = c.CommonTableExpr as N;
      const name = cte.ctename as string;
      if (ctes.has(name) && [...ctes.values()].some((d) => d.name === name && d.ref.plan !== null && !list(w.ctes).includes(c))) {
        // An outer CTE of the same name is shadowed: fine.
      }
      const aliases = list(cte.aliascolnames).map(str);
      const q = cte.ctequery as N;
      const body = (q.SelectStmt ?? null) as N | null;
      if (body === null) notSupported('a data-modifying statement in WITH', loc(cte));
      const def: CteDef = { name, cols: [], plan: null, work: null, ref: { plan: null, name } };
      if (recursive && body.op === 'SETOP_UNION' && this.mentions(body.rarg as N, name)) {
        const base = this.selectStmt({ SelectStmt: body.larg } as N, parent, ctes);
        const cols = base.cols.map((col, i) => ({ ...col, name: aliases[i] ?? col.name }));
        const work = new WorkTableNode(name, cols);
        def.cols = cols;
        def.work = work;
        ctes.set(name, def);
        const stepAggs: N[] = [];
        const rarg = body.rarg as N;
        this.collectCalls([rarg.targetList, rarg.havingClause], stepAggs, []);
        if (stepAggs.length > 0) throw sqlError('42P19', "aggregate functions are not allowed in a recursive query's recursive term", loc(bodyOf(stepAggs[0])), 'SQL_INVALID_PARAMETER');
        this.recursiveDepth++;
        let step: BoundQuery;
        try {
          step = this.selectStmt({ SelectStmt: body.rarg } as N, parent, ctes);
        } finally {
          this.recursiveDepth--;
        }
        if (step.cols.length !== cols.length) throw sqlError('42601', 'each UNION query must have the same number of columns', loc(cte));
        let stepPlan = step.plan;
        if (step.cols.some((col, i) => col.type !== cols[i].type && cols[i].type !== 'unknown')) {
          const casts = step.cols.map((col, i) => this.coerce({ k: 'col', idx: i, type: col.type, name: col.name }, cols[i].type));
          stepPlan = new ProjectNode(stepPlan, casts.map(compile), cols);
        }
        def.plan = new RecursiveUnionNode(base.plan, stepPlan, work, body.all === true, cols, this.o.recursiveRowsMax);
        def.work = null;
      } else {
        const b = this.selectStmt(q, parent, ctes);
        def.cols = b.cols.map((col, i) => ({ ...col, name: aliases[i] ?? col.name }));
        def.plan = b.plan;
      }
      if (aliases.length > def.cols.length) throw sqlError('42P10', `WITH query "${name}" has ${def.cols.length} columns available but ${aliases.length} columns specified`, loc(cte));
      def.ref.plan = def.plan;
      ctes.set(name, def);
    }
  }

  private mentions(node: unknown, name: string): boolean {
    if (node === null || typeof node !== 'object') return false;
    if (Array.isArray(node)) return node.some((x) => this.mentions(x, name));
    const o = node as N;
    if (o.RangeVar !== undefined && (o.RangeVar as N).relname === name && (o.RangeVar as N).schemaname === undefined) return true;
    return Object.values(o).some((v) => this.mentions(v, name));
  }

  private setOperation(s: N, parent: Scope | null, ctes: Map<string, CteDef>): BoundQuery {
    // Arms keep untyped literals (NULL, 'x') untyped: the other arm decides (PostgreSQL's select_common_type).
    const l = this.selectStmt({ SelectStmt: s.larg } as N, parent, ctes, true);
    const r = this.selectStmt({ SelectStmt: s.rarg } as N, parent, ctes, true);
    const opName = (s.op as string).replace('SETOP_', '').toLowerCase() as 'union' | 'intersect' | 'except';
    if (l.cols.length !== r.cols.length) throw sqlError('42601', `each ${opName.toUpperCase()} query must have the same number of columns`, loc((s.rarg as N) ?? {}));
    const types = l.cols.map((c, i) => commonType([c.type, r.cols[i].type], opName.toUpperCase()));
    const cols = l.cols.map((c, i) => ({ name: c.name, type: types[i] === 'unknown' ? 'text' : types[i], rel: null }) as ColInfo);
    const casts = (side: ColInfo[]): Compiled[] | null =>
      side.every((c, i) => c.type === cols[i].type) ? null : side.map((c, i) => compile(this.coerce({ k: 'col', idx: i, type: c.type, name: c.name }, cols[i].type)));
    const node = new SetOpNode(opName, s.all === true, l.plan, r.plan, cols, casts(l.cols), casts(r.cols));
    return this.finishSetLike({ plan: node, cols }, s, parent, ctes);
  }

  /** ORDER BY / LIMIT over a set operation or VALUES: keys name output columns. */
  private finishSetLike(q: BoundQuery, s: N, parent: Scope | null, ctes: Map<string, CteDef>): BoundQuery {
    let plan = q.plan;
    const sort = list(s.sortClause);
    if (sort.length > 0) {
      const scope = new Scope(parent, ctes);
      q.cols.forEach((c, i) => scope.entries.push({ name: c.name, rel: null, expr: { k: 'col', idx: i, type: c.type, name: c.name }, star: true, unqualified: true, scan: null, local: i }));
      const keys = sort.map((sb) => {
        const b = sb.SortBy as N;
        const node = b.node as N;
        const ref = this.outputRef(node, q.cols);
        // PostgreSQL: a set operation's ORDER BY names output columns only.
        if (ref === null && s.op !== undefined && s.op !== 'SETOP_NONE') {
          throw sqlError('0A000', 'invalid UNION/INTERSECT/EXCEPT ORDER BY clause: only result column names can be used, not expressions or functions', loc(bodyOf(node)));
        }
        const e = ref ?? this.expr(node, scope);
        return this.sortKey(e, b);
      });
      plan = new SortNode(plan, keys);
    }
    plan = this.limit(plan, s, parent, ctes);
    return { plan, cols: q.cols };
  }

  private values(s: N, parent: Scope | null, ctes: Map<string, CteDef>, keepUnknown = false): BoundQuery {
    const scope = new Scope(parent, ctes);
    const rows = list(s.valuesLists).map((l) => list((l.List as N).items).map((item) => this.expr(item, scope)));
    const width = rows[0].length;
    if (rows.some((r) => r.length !== width)) throw sqlError('42601', 'VALUES lists must all be the same length');
    const types = Array.from({ length: width }, (_x, j) => {
      const t = commonType(rows.map((r) => r[j].type), 'VALUES');
      return t === 'unknown' && !keepUnknown ? 'text' : t;
    });
    const cols: ColInfo[] = types.map((t, j) => ({ name: `column${j + 1}`, type: t, rel: null }));
    const compiled = rows.map((r) => r.map((e, j) => compile(this.coerce(e, types[j]))));
    return { plan: new ValuesNode(cols, compiled), cols };
  }

  private simpleSelect(s: N, parent: Scope | null, ctes: Map<string, CteDef>, keepUnknown = false): BoundQuery {
    const scope = new Scope(parent, ctes);
    if (s.intoClause !== undefined) notSupported('SELECT INTO');
    if (s.lockingClause !== undefined) notSupported('SELECT … FOR UPDATE/SHARE');
    // FROM
    const from = list(s.fromClause);
    const leaves: Leaf[] = [];
    let width = 0;
    for (const item of from) {
      const leaf = this.fromItem(item, scope, width);
      leaves.push(leaf);
      width += leaf.width;
    }
    // WHERE: [NOT] EXISTS and IN (subquery) conjuncts correlated by equalities become semi and
    // anti joins (decorrelated: the subquery runs once, hashed); the rest is bound as written.
    let whereRaw = s.whereClause as N | undefined;
    let where: Expr | null = null;
    const semis: Decorrelated[] = [];
    if (whereRaw !== undefined) {
      this.refuseAggregates(whereRaw, 'WHERE');
      if (leaves.length > 0) {
        const parts = kindOf(whereRaw) === 'BoolExpr' && bodyOf(whereRaw).boolop === 'AND_EXPR' ? list(bodyOf(whereRaw).args) : [whereRaw];
        const kept = parts.filter((p) => {
          const d = this.decorrelate(p, scope);
          if (d === null) return true;
          semis.push(d);
          return false;
        });
        whereRaw = kept.length === 0 ? undefined : kept.length === 1 ? kept[0] : ({ BoolExpr: { boolop: 'AND_EXPR', args: kept } } as N);
      }
      if (whereRaw !== undefined) where = this.coerce(this.expr(whereRaw, scope), 'bool', loc(bodyOf(whereRaw)), 'argument of WHERE');
    }
    let plan = this.joinLeaves(leaves, conjuncts(where));
    for (const d of semis) {
      plan = new JoinNode(
        d.anti ? 'anti' : 'semi',
        plan,
        d.plan,
        d.outerKeys.map(compile),
        d.innerKeys.map((_e, i) => compile({ k: 'col', idx: i, type: d.types[i], name: `key${i}` })),
        d.types,
        null,
        [`Hash Cond: ${d.outerKeys.map((o, i) => `(${exprText(o)} = ${exprText(d.innerKeys[i])})`).join(' AND ')}`, '(decorrelated subquery)'],
      );
    }
    // Aggregation?
    const targets = list(s.targetList);
    const sortClause = list(s.sortClause);
    const having = s.havingClause as N | undefined;
    const groupClause = list(s.groupClause);
    const aggNodes: N[] = [];
    const winNodes: N[] = [];
    for (const t of targets) this.collectCalls(t, aggNodes, winNodes);
    if (having !== undefined) this.collectCalls(having, aggNodes, winNodes);
    for (const sb of sortClause) this.collectCalls(sb, aggNodes, winNodes);
    if (having !== undefined) this.refuseWindows(having, 'HAVING');
    const aggregating = aggNodes.length > 0 || groupClause.length > 0 || having !== undefined;
    // Output names of the targets (GROUP BY may name them).
    const starCount = targets.filter((t) => this.isStar((t.ResTarget as N).val as N)).length;
    if (aggregating) {
      const groups: Expr[] = [];
      for (const g of groupClause) {
        const gk = kindOf(g);
        if (gk === 'GroupingSet') {
          const gs = bodyOf(g);
          if (gs.kind === 'GROUPING_SET_EMPTY') continue;
          notSupported('GROUPING SETS, ROLLUP and CUBE', loc(gs));
        }
        groups.push(this.groupExpr(g, targets, scope, starCount));
      }
      const agg: AggContext = { slots: new Map(), specs: [], raw: [], groups, nAggs: aggNodes.length };
      aggNodes.forEach((n, i) => agg.slots.set(n, i));
      for (let i = 0; i < aggNodes.length; i++) {
        agg.specs.push(null);
        agg.raw.push(null);
      }
      // Bind every aggregate's arguments over the input rows.
      for (const n of aggNodes) this.bindAggregate(n, scope, agg);
      const specs = agg.specs as AggSpec[];
      const whole = groups.length === 0;
      const pushed = leaves.length === 1 && plan === leaves[0].node && leaves[0].scan?.pushAggregate !== undefined && this.allPushed(plan) ? leaves[0].scan.pushAggregate(groups, specs, agg.raw as NonNullable<AggContext['raw'][number]>[]) : null;
      plan =
        pushed ??
        new AggregateNode(
          plan,
          groups.map(compile),
          groups.map((g) => g.type),
          specs,
          groups.map((g) => exprText(g)),
          whole,
        );
      scope.agg = { ...agg, groups: groups.map((g) => shiftAll(g, agg.nAggs)) };
      if (having !== undefined) {
        const h = this.grouped(this.coerce(this.expr(having, scope), 'bool', undefined, 'argument of HAVING'), scope);
        plan = new FilterNode(plan, compile(h), exprText(h, this.namer(plan)));
      }
    }
    // Windows
    if (winNodes.length > 0) {
      const base = plan.cols.length;
      const win: WinContext = { slots: new Map(), specs: [], base, windows: new Map() };
      for (const w of list(s.windowClause)) {
        const wd = w.WindowDef as N;
        win.windows.set(wd.name as string, w);
      }
      winNodes.forEach((n, i) => {
        win.slots.set(n, i);
        win.specs.push(null);
      });
      for (const n of winNodes) this.bindWindow(n, scope, win);
      plan = new WindowNode(plan, win.specs as WindowSpec[]);
      scope.win = win;
    }
    // Targets
    const outExprs: Expr[] = [];
    const outCols: ColInfo[] = [];
    for (const t of targets) {
      const rt = t.ResTarget as N;
      const val = rt.val as N;
      if (this.isStar(val)) {
        for (const e of this.expandStar(val, scope)) {
          outExprs.push(this.post(e.expr, scope));
          outCols.push({ name: e.name, type: e.expr.type, rel: e.rel });
        }
        continue;
      }
      let e = this.post(this.expr(val, scope), scope);
      if (e.type === 'unknown' && !(keepUnknown && e.k === 'const')) e = this.coerce(e, 'text');
      outExprs.push(e);
      outCols.push({ name: (rt.name as string | undefined) ?? this.nameOf(val), type: e.type, rel: null });
    }
    if (targets.length === 0 && from.length === 0) {
      // SELECT; (no columns) is valid.
    }
    // ORDER BY keys: output columns (by name or ordinal) or expressions over the input.
    const distinct = s.distinctClause !== undefined;
    const distinctOn = list(s.distinctClause).filter((d) => Object.keys(d).length > 0);
    const junk: Expr[] = [];
    const keyRefs: { idx: number; b: N; e: Expr }[] = [];
    for (const sb of sortClause) {
      const b = sb.SortBy as N;
      const node = b.node as N;
      let idx = this.outputIndex(node, outCols, outExprs);
      let e: Expr;
      if (idx === null) {
        e = this.post(this.expr(node, scope), scope);
        const same = outExprs.findIndex((o) => sameExpr(o, e));
        if (same >= 0) idx = same;
        else {
          if (distinct && distinctOn.length === 0) throw sqlError('42P10', 'for SELECT DISTINCT, ORDER BY expressions must appear in select list', loc(bodyOf(node)));
          idx = outExprs.length + junk.length;
          junk.push(e);
        }
      } else e = idx < outExprs.length ? outExprs[idx] : junk[idx - outExprs.length];
      keyRefs.push({ idx, b, e });
    }
    const onExprs = distinctOn.map((d) => {
      const idx = this.outputIndex(d, outCols, outExprs);
      if (idx !== null) return { k: 'col', idx, type: outExprs[idx].type, name: outCols[idx].name } as Expr;
      const e = this.post(this.expr(d, scope), scope);
      const same = outExprs.findIndex((o) => sameExpr(o, e));
      if (same >= 0) return { k: 'col', idx: same, type: e.type, name: outCols[same].name } as Expr;
      const at = outExprs.length + junk.length;
      junk.push(e);
      return { k: 'col', idx: at, type: e.type, name: '?column?' } as Expr;
    });
    if (distinctOn.length > 0 && keyRefs.length > 0) {
      // PostgreSQL: the DISTINCT ON expressions must match the leftmost ORDER BY expressions.
      for (let i = 0; i < Math.min(onExprs.length, keyRefs.length); i++) {
        const on = onExprs[i] as Extract<Expr, { k: 'col' }>;
        if (!onExprs.some((o) => (o as Extract<Expr, { k: 'col' }>).idx === keyRefs[i].idx) && on.idx !== keyRefs[i].idx) {
          throw sqlError('42P10', 'SELECT DISTINCT ON expressions must match initial ORDER BY expressions', loc(bodyOf(distinctOn[i])));
        }
      }
    }
    // ORDER BY plain columns + LIMIT over one table whose filter went down whole: the shards keep
    // only their top rows (partial top-N; PostgreSQL's default NULLS placement is the shards').
    const scanLeaf = leaves.length === 1 ? leaves[0] : null;
    if (
      scanLeaf !== null &&
      scanLeaf.scan?.pushTopN !== undefined &&
      plan === scanLeaf.node &&
      this.allPushed(plan) &&
      scope.agg === null &&
      scope.win === null &&
      !distinct &&
      keyRefs.length > 0 &&
      s.limitCount !== undefined &&
      keyRefs.every((k) => k.e.k === 'col' && k.e.type !== 'jsonb' && k.e.type !== 'bytea' && this.defaultNulls(k.b))
    ) {
      const window = this.limitWindow(s, parent, ctes);
      if (window !== null) scanLeaf.scan.pushTopN(keyRefs.map((k) => ({ col: (k.e as { idx: number }).idx, desc: k.b.sortby_dir === 'SORTBY_DESC' })), window);
    }
    const all = [...outExprs, ...junk];
    const projCols: ColInfo[] = [...outCols, ...junk.map((e) => ({ name: '?junk?', type: e.type, rel: null }))];
    plan = new ProjectNode(plan, all.map(compile), projCols);
    if (keyRefs.length > 0) {
      plan = new SortNode(
        plan,
        keyRefs.map((k) => this.sortKey({ k: 'col', idx: k.idx, type: k.e.type, name: projCols[k.idx].name }, k.b, exprText(k.e))),
      );
    }
    if (distinct) {
      plan =
        distinctOn.length > 0
          ? new DistinctNode(
              plan,
              onExprs.map(compile),
              onExprs.map((e) => e.type),
              outExprs.length,
            )
          : new DistinctNode(plan, null, null, outExprs.length);
    }
    plan = this.limit(plan, s, parent, ctes);
    if (junk.length > 0) {
      plan = new ProjectNode(
        plan,
        outExprs.map((e, i) => compile({ k: 'col', idx: i, type: e.type, name: outCols[i].name })),
        outCols,
      );
    }
    return { plan, cols: outCols };
  }

  /**
   * `EXISTS (SELECT … FROM … WHERE inner = outer AND …)`, its NOT, and `x IN (SELECT y FROM … [WHERE
   * inner = outer …])` as a semi (anti) join: the subquery's own conjuncts stay in it, each
   * correlation `inner_expr = outer_expr` becomes a hash key. Null when the subquery has any other
   * shape (aggregates, LIMIT, set operations, other correlations…): it then runs as written.
   */
  private decorrelate(node: N, scope: Scope): Decorrelated | null {
    let anti = false;
    let n = node;
    if (kindOf(n) === 'BoolExpr' && bodyOf(n).boolop === 'NOT_EXPR') {
      anti = true;
      n = list(bodyOf(n).args)[0];
    }
    if (kindOf(n) !== 'SubLink') return null;
    const link = bodyOf(n);
    const type = link.subLinkType as string;
    const isIn = type === 'ANY_SUBLINK' && (list(link.operName).length === 0 || list(link.operName).map(str).join('.') === '=');
    if (type !== 'EXISTS_SUBLINK' && !isIn) return null;
    if (isIn && anti) return null; // NOT IN: NULLs make it no anti join
    if (isIn && kindOf(link.testexpr) === 'RowExpr') return null;
    const sub = (link.subselect as N).SelectStmt as N | undefined;
    if (sub === undefined) return null;
    const plain = (sub.op === undefined || sub.op === 'SETOP_NONE') && sub.valuesLists === undefined && sub.withClause === undefined && sub.groupClause === undefined && sub.havingClause === undefined && sub.limitCount === undefined && sub.limitOffset === undefined && sub.distinctClause === undefined && sub.windowClause === undefined && list(sub.fromClause).length > 0;
    if (!plain) return null;
    const targets = list(sub.targetList);
    if (isIn && targets.length !== 1) return null;
    const aggs: N[] = [];
    const wins: N[] = [];
    this.collectCalls([sub.targetList, sub.whereClause], aggs, wins);
    if (aggs.length > 0 || wins.length > 0) return null;
    // Bind the subquery's FROM and WHERE in its own scope (one level down), then sort its conjuncts.
    const frame = { level: scope.level + 1, correlated: false };
    this.frames.push(frame);
    const mark = this.o.catalog.scanMark?.() ?? 0;
    let done = false;
    try {
      const inner = new Scope(scope, scope.ctes);
      const leaves: Leaf[] = [];
      let width = 0;
      for (const item of list(sub.fromClause)) {
        const leaf = this.fromItem(item, inner, width);
        if (leaf.lateral === true) return null;
        leaves.push(leaf);
        width += leaf.width;
      }
      const whereE = sub.whereClause === undefined ? null : this.coerce(this.expr(sub.whereClause as N, inner), 'bool');
      const local: Expr[] = [];
      const innerKeys: Expr[] = [];
      const outerKeys: Expr[] = [];
      const outerOnly = (e: Expr): boolean => {
        let ok = columnsRead(e).size === 0 && !hasSubquery(e);
        walk(e, (x) => {
          if (x.k === 'outer' && x.depth !== 1) ok = false;
        });
        return ok && isCorrelated(e);
      };
      for (const c of conjuncts(whereE)) {
        if (!isCorrelated(c)) {
          local.push(c);
          continue;
        }
        if (c.k === 'op' && c.op === '=' && c.args.length === 2 && c.args[0].type === c.args[1].type) {
          const [a, b] = c.args;
          if (outerOnly(b) && !isCorrelated(a) && !hasSubquery(a) && columnsRead(a).size > 0) {
            innerKeys.push(a);
            outerKeys.push(b);
            continue;
          }
          if (outerOnly(a) && !isCorrelated(b) && !hasSubquery(b) && columnsRead(b).size > 0) {
            innerKeys.push(b);
            outerKeys.push(a);
            continue;
          }
        }
        return null;
      }
      if (isIn) {
        const target = this.expr((targets[0].ResTarget as N).val as N, inner);
        const test = this.expr(link.testexpr as N, scope);
        if (isCorrelated(target) || hasSubquery(target) || isCorrelated(test) || hasSubquery(test)) return null;
        const eq = this.op('=', test, target, loc(link));
        if (eq.k !== 'op' || eq.args[0].type !== eq.args[1].type) return null;
        // The test is over the outer row (as an outer reference from inside: depth 1).
        innerKeys.push(eq.args[1]);
        outerKeys.push(mapExpr(eq.args[0], (x) => (x.k === 'col' ? { k: 'outer', depth: 1, idx: x.idx, type: x.type, name: x.name } : x)));
      }
      if (innerKeys.length === 0) return null;
      const joined = this.joinLeaves(leaves, local);
      const plan = new ProjectNode(
        joined,
        innerKeys.map(compile),
        innerKeys.map((k, i) => ({ name: `key${i}`, type: k.type, rel: null })),
      );
      // Outer keys read the outer row directly once the join runs at the outer level.
      const outer = outerKeys.map((k) => mapExpr(k, (x) => (x.k === 'outer' ? { k: 'col', idx: x.idx, type: x.type, name: x.name } : x)));
      done = true;
      return { anti, plan, innerKeys, outerKeys: outer, types: innerKeys.map((k) => k.type) };
    } finally {
      this.frames.pop();
      // Not decorrelated: the scans bound for the attempt are not fetched (the subquery is bound again).
      if (!done) this.o.catalog.dropScansAfter?.(mark);
    }
  }

  /** All of the single leaf's WHERE conjuncts went to its scan (so its aggregate may be pushed too). */
  private allPushed(plan: PlanNode): boolean {
    return !plan.details.some((d) => d.startsWith('Router Filter:'));
  }

  private defaultNulls(b: N): boolean {
    const nulls = b.sortby_nulls as string | undefined;
    const desc = b.sortby_dir === 'SORTBY_DESC';
    return nulls === undefined || nulls === 'SORTBY_NULLS_DEFAULT' || (nulls === 'SORTBY_NULLS_FIRST') === desc;
  }

  /** LIMIT + OFFSET as one closure (for a pushed top-N), or null when not constant/parameter. */
  private limitWindow(s: N, parent: Scope | null, ctes: Map<string, CteDef>): Compiled | null {
    const scope = new Scope(parent, ctes);
    const part = (n: N | undefined): Compiled | null | 'none' => {
      if (n === undefined) return 'none';
      const e = this.expr(n, scope);
      if (e.k !== 'const' && e.k !== 'param') return null;
      if (e.type === 'numeric' || e.type === 'float4' || e.type === 'float8') return compile(this.castTo(e, 'int8'));
      if (e.type !== 'unknown' && e.type !== 'int2' && e.type !== 'int4' && e.type !== 'int8') return null;
      return compile(this.coerce(e, 'int8'));
    };
    const count = part(s.limitCount as N | undefined);
    const offset = part(s.limitOffset as N | undefined);
    if (count === null || count === 'none' || offset === null) return null;
    return (row, env) => {
      const c = count(row, env);
      const o = offset === 'none' ? 0 : offset(row, env);
      if (c === null) return null;
      return Number(c) + Number(o ?? 0);
    };
  }

  private limit(plan: PlanNode, s: N, parent: Scope | null, ctes: Map<string, CteDef>): PlanNode {
    const count = s.limitCount as N | undefined;
    const offset = s.limitOffset as N | undefined;
    if (count === undefined && offset === undefined) return plan;
    if (s.limitOption === 'LIMIT_OPTION_WITH_TIES') notSupported('FETCH … WITH TIES');
    const scope = new Scope(parent, ctes);
    const bindCount = (n: N | undefined, what: string): Compiled | null => {
      if (n === undefined) return null;
      const e = this.expr(n, scope);
      if (e.k === 'const' && e.value === null) return null;
      if (isCorrelated(e) || columnsRead(e).size > 0) throw sqlError('42P10', `argument of ${what} must not contain variables`, loc(bodyOf(n)));
      // LIMIT 2.5 is 3: PostgreSQL assigns numeric arguments to bigint (rounding).
      const numeric = e.type === 'numeric' || e.type === 'float4' || e.type === 'float8';
      return compile(numeric ? this.castTo(e, 'int8', loc(bodyOf(n))) : this.coerce(e, 'int8', loc(bodyOf(n)), `argument of ${what}`));
    };
    const node = new LimitNode(plan, bindCount(count, 'LIMIT'), bindCount(offset, 'OFFSET'));
    return node;
  }

  // ---- FROM ----

  private fromItem(item: N, scope: Scope, offset: number): Leaf {
    const k = kindOf(item);
    const b = bodyOf(item);
    switch (k) {
      case 'RangeVar':
        return this.rangeVar(b, scope, offset);
      case 'RangeSubselect': {
        const alias = b.alias as N | undefined;
        const lateral = b.lateral === true;
        // A derived table sees the enclosing query's outer scopes, not its FROM siblings; a LATERAL
        // one sees the FROM items before it too, as outer references to the join's left row.
        let sub: BoundQuery;
        if (lateral) {
          if (offset > 0 && scope.entries.length === 0) notSupported('LATERAL inside a parenthesized join', loc(b));
          const frame = { level: scope.level + 1, correlated: false };
          this.frames.push(frame);
          try {
            sub = this.selectStmt(b.subquery as N, scope, scope.ctes);
          } finally {
            this.frames.pop();
          }
        } else sub = this.selectStmt(b.subquery as N, scope.parent, scope.ctes);
        const name = (alias?.aliasname as string | undefined) ?? null;
        if (name === null) {
          // PostgreSQL 16+ allows no alias; 15 requires one. Accept it (an anonymous relation).
        }
        const colnames = list(alias?.colnames).map(str);
        const cols = sub.cols.map((c, i) => ({ name: colnames[i] ?? c.name, type: c.type }));
        const rel = name ?? `subquery${offset}`;
        this.checkDuplicateRel(scope, rel, loc(b));
        this.addRelation(scope, rel, cols, null, offset);
        return { node: sub.plan, width: cols.length, offset, scan: null, nullable: false, lateral };
      }
      case 'JoinExpr':
        return this.joinExpr(b, scope, offset);
      case 'RangeFunction':
        notSupported('a function in FROM', loc(b));
      // falls through (never returns)
      default:
        notSupported(`${k} in FROM`, loc(b));
    }
  }

  private checkDuplicateRel(scope: Scope, rel: string, location?: number): void {
    if (scope.rels.has(rel)) throw sqlError('42712', `table name "${rel}" specified more than once`, location, 'SQL_DUPLICATE_OBJECT');
  }

  private rangeVar(b: N, scope: Scope, offset: number): Leaf {
    const name = b.relname as string;
    const schema = b.schemaname as string | undefined;
    const alias = (b.alias as N | undefined)?.aliasname as string | undefined;
    const colAliases = list((b.alias as N | undefined)?.colnames).map(str);
    const rel = alias ?? name;
    const cte = schema === undefined ? scope.ctes.get(name) : undefined;
    if (cte !== undefined) {
      this.checkDuplicateRel(scope, rel, loc(b));
      const cols = cte.cols.map((c, i) => ({ name: colAliases[i] ?? c.name, type: c.type }));
      this.addRelation(scope, rel, cols, null, offset);
      const node = cte.work !== null ? cte.work : new CteScanNode(cte.ref, cte.cols);
      return { node, width: cols.length, offset, scan: null, nullable: false };
    }
    if (schema !== undefined && schema !== 'public') throw sqlError('3F000', `schema "${schema}" does not exist`, loc(b), 'SQL_UNDEFINED_TABLE');
    const relation = this.o.catalog.relation(name);
    if (relation === null) throw sqlError('42P01', `relation "${name}" does not exist`, loc(b));
    this.checkDuplicateRel(scope, rel, loc(b));
    const scan = relation.makeScan(rel);
    const cols = relation.cols.map((c, i) => ({ name: c.hidden ? c.name : (colAliases[i] ?? c.name), type: c.type, hidden: c.hidden }));
    scope.rels.add(rel);
    cols.forEach((c, i) => {
      scope.entries.push({ name: c.name, rel, expr: { k: 'col', idx: offset + i, type: c.type, name: `${rel}.${c.name}` }, star: !c.hidden, unqualified: !c.hidden, scan, local: i, hidden: c.hidden === true });
    });
    // Row-level security: the caller's policies filter the scan itself (pushed with the WHERE clause).
    const secured = this.rowSecurity(relation.name, relation.cols, scan, ['select']);
    let node: PlanNode = scan.node;
    if (secured.length > 0) {
      const f = andOf(secured) as Expr;
      node = new FilterNode(scan.node, compile(f), exprText(f));
      node.details = [`Router Filter: ${exprText(f)}`];
    }
    return { node, width: cols.length, offset, scan, nullable: false };
  }

  private joinExpr(b: N, scope: Scope, offset: number): Leaf {
    const type = b.jointype as string;
    const kind: JoinKind = type === 'JOIN_LEFT' ? 'left' : type === 'JOIN_RIGHT' ? 'right' : type === 'JOIN_FULL' ? 'full' : 'inner';
    if (type !== 'JOIN_INNER' && type !== 'JOIN_LEFT' && type !== 'JOIN_RIGHT' && type !== 'JOIN_FULL') notSupported(type);
    // Bind both sides into a private scope so USING/NATURAL can merge columns; then publish.
    const local = new Scope(scope.parent, scope.ctes);
    const left = this.fromItem(b.larg as N, local, offset);
    const leftEntries = local.entries.length;
    const right = this.fromItem(b.rarg as N, local, offset + left.width);
    const lEntries = local.entries.slice(0, leftEntries);
    const rEntries = local.entries.slice(leftEntries);
    let using = list(b.usingClause).map(str);
    if (b.isNatural === true) {
      const rightNames = new Set(rEntries.filter((e) => e.star).map((e) => e.name));
      using = lEntries.filter((e) => e.star && rightNames.has(e.name)).map((e) => e.name);
    }
    let cond: Expr | null = null;
    const published: Entry[] = [];
    if (using.length > 0 || b.isNatural === true) {
      const eqs: Expr[] = [];
      const mergedNames = new Set<string>();
      for (const name of using) {
        const l = lEntries.filter((e) => e.name === name && e.unqualified);
        const r = rEntries.filter((e) => e.name === name && e.unqualified);
        if (l.length === 0) throw sqlError('42703', `column "${name}" specified in USING clause does not exist in left table`, loc(b));
        if (r.length === 0) throw sqlError('42703', `column "${name}" specified in USING clause does not exist in right table`, loc(b));
        if (l.length > 1) throw sqlError('42702', `common column name "${name}" appears more than once in left table`, loc(b));
        if (r.length > 1) throw sqlError('42702', `common column name "${name}" appears more than once in right table`, loc(b));
        l[0].scan?.need(l[0].local);
        r[0].scan?.need(r[0].local);
        eqs.push(this.op('=', l[0].expr, r[0].expr, loc(b)));
        const t = commonType([l[0].expr.type, r[0].expr.type], 'JOIN/USING');
        const lx = this.coerce(l[0].expr, t);
        const rx = this.coerce(r[0].expr, t);
        const merged: Expr = kind === 'right' ? rx : kind === 'full' ? { k: 'coalesce', args: [lx, rx], type: t } : lx;
        published.push({ name, rel: null, expr: merged, star: true, unqualified: true, scan: null, local: -1 });
        mergedNames.add(name);
      }
      for (const e of [...lEntries, ...rEntries]) {
        const isMerged = mergedNames.has(e.name) && e.unqualified;
        published.push({ ...e, star: e.star && !isMerged, unqualified: e.unqualified && !isMerged });
      }
      cond = andOf(eqs);
    } else {
      published.push(...local.entries);
    }
    for (const rel of local.rels) this.checkDuplicateRel(scope, rel, loc(b));
    for (const rel of local.rels) scope.rels.add(rel);
    if (b.quals !== undefined) {
      // ON sees the joined tables by their own names (before an alias of the whole join hides them).
      const joinScope = new Scope(scope.parent, scope.ctes);
      joinScope.entries = [...published];
      joinScope.rels = local.rels;
      this.refuseAggregates(b.quals as N, 'JOIN conditions');
      cond = this.coerce(this.expr(b.quals as N, joinScope), 'bool', undefined, 'argument of JOIN/ON');
    }
    const aliasName = (b.alias as N | undefined)?.aliasname as string | undefined;
    if (aliasName !== undefined) {
      // (… JOIN …) AS j: only j.col names the columns.
      published.splice(0, published.length, ...published.filter((e) => e.star).map((e) => ({ ...e, rel: aliasName })));
      scope.rels.add(aliasName);
    }
    scope.entries.push(...published);
    // Plan: ON conjuncts over the join's own layout [offset, offset + width). Planned when the
    // enclosing query knows its WHERE conjuncts over this join (`extra`, same layout), so those
    // go down to the sides too where the join kind allows.
    const conds = conjuncts(cond).map((c) => shiftAll(c, -offset));
    const width = left.width + right.width;
    const lw = left.width;
    if (right.lateral === true) {
      if (offset !== 0) notSupported('LATERAL inside a nested join', loc(b));
      if (kind !== 'inner' && kind !== 'left') throw sqlError('42P10', 'The combining JOIN type must be INNER or LEFT for a LATERAL reference.', loc(b));
    }
    const build = (extra: Expr[]): PlanNode => {
      const pushL: Expr[] = [];
      const pushR: Expr[] = [];
      const rest: Expr[] = [];
      const after: Expr[] = [];
      const side = (c: Expr): 'L' | 'R' | 'both' | 'none' => {
        const cols = columnsRead(c);
        if (hasSubquery(c) || cols.size === 0) return 'none';
        if ([...cols].every((i) => i < lw)) return 'L';
        if ([...cols].every((i) => i >= lw)) return 'R';
        return 'both';
      };
      for (const c of conds) {
        const at = side(c);
        if (at === 'R' && (kind === 'inner' || kind === 'left')) pushR.push(shiftAll(c, -lw));
        else if (at === 'L' && (kind === 'inner' || kind === 'right')) pushL.push(c);
        else rest.push(c);
      }
      // WHERE conjuncts: below the join only on a side whose rows are never NULL-extended.
      for (const c of extra) {
        const at = side(c);
        if (at === 'L' && (kind === 'inner' || kind === 'left')) pushL.push(c);
        else if (at === 'R' && (kind === 'inner' || kind === 'right') && right.lateral !== true) pushR.push(shiftAll(c, -lw));
        else if (kind === 'inner' && at === 'both') rest.push(c);
        else after.push(c);
      }
      const lNode = this.planLeaf({ ...left, offset: 0 }, pushL);
      const rNode = this.planLeaf({ ...right, offset: 0 }, pushR);
      let node: PlanNode;
      if (right.lateral === true) {
        const f = andOf(rest);
        node = new LateralJoinNode(kind as 'inner' | 'left', lNode, rNode, f === null ? null : compile(f), f === null ? [] : [`Join Filter: ${exprText(f)}`]);
      } else node = this.makeJoin(kind, lNode, rNode, lw, rest, rNode === right.node ? right.scan : null);
      if (after.length > 0) {
        const f = andOf(after) as Expr;
        node = new FilterNode(node, compile(f), exprText(f));
      }
      return node;
    };
    return { node: null, build, width, offset, scan: null, nullable: false };
  }

  /** A leaf's plan with conjuncts over its local layout applied (pushed into its scan or join where possible). */
  private planLeaf(leaf: Leaf, conds: Expr[]): PlanNode {
    if (leaf.build !== undefined) return leaf.build(conds);
    return this.applyFilters(leaf, conds);
  }

  /** Pushes conjuncts (over a leaf's local layout) into its scan, or filters on the router. */
  private applyFilters(leaf: Leaf, conds: Expr[]): PlanNode {
    const rest: Expr[] = [];
    for (const c of conds) {
      if (leaf.scan !== null && !hasSubquery(c) && !isCorrelated(c) && leaf.scan.push(c)) continue;
      rest.push(c);
    }
    const base = leaf.node as PlanNode;
    if (rest.length === 0) return base;
    const f = andOf(rest) as Expr;
    const node = new FilterNode(base, compile(f), exprText(f));
    if (leaf.scan !== null) node.details = [`Router Filter: ${exprText(f)}`];
    return node;
  }

  /** A join of `left` (layout [0, lw)) and `right`, with conditions over the joined layout. */
  private makeJoin(kind: JoinKind, left: PlanNode, right: PlanNode, lw: number, conds: Expr[], rightScan: ScanHandle | null = null): PlanNode {
    const lk: Expr[] = [];
    const rk: Expr[] = [];
    const types: SqlType[] = [];
    const residual: Expr[] = [];
    const text: string[] = [];
    for (const c of conds) {
      if (c.k === 'op' && c.op === '=' && c.args.length === 2 && !hasSubquery(c)) {
        const a = columnsRead(c.args[0]);
        const b = columnsRead(c.args[1]);
        const inL = (s: Set<number>): boolean => s.size > 0 && [...s].every((i) => i < lw);
        const inR = (s: Set<number>): boolean => s.size > 0 && [...s].every((i) => i >= lw);
        const hashable = c.args[0].type === c.args[1].type;
        if (hashable && inL(a) && inR(b) && !isCorrelated(c)) {
          lk.push(c.args[0]);
          rk.push(shiftAll(c.args[1], -lw));
          types.push(c.args[0].type);
          text.push(exprText(c));
          continue;
        }
        if (hashable && inR(a) && inL(b) && !isCorrelated(c)) {
          lk.push(c.args[1]);
          rk.push(shiftAll(c.args[0], -lw));
          types.push(c.args[1].type);
          text.push(exprText(c));
          continue;
        }
      }
      residual.push(c);
    }
    const details: string[] = [];
    if (lk.length > 0) details.push(`Hash Cond: ${text.join(' AND ')}`);
    const res = andOf(residual);
    if (res !== null) details.push(`${lk.length > 0 ? 'Join Filter' : 'Join Filter'}: ${exprText(res)}`);
    // A runtime filter: the right table is fetched after the left input ran, with its join column
    // narrowed to the left's key values (rows that cannot match never leave the shards). Inner and
    // left joins only (right rows without a match are never output), at the statement's top level.
    if (rightScan?.runtimeIn !== undefined && (kind === 'inner' || kind === 'left') && this.frames.length === 0 && this.recursiveDepth === 0) {
      const at = rk.findIndex((k) => k.k === 'col');
      if (at >= 0) rightScan.runtimeIn((rk[at] as { idx: number }).idx, left, compile(lk[at]), exprText(lk[at]));
    }
    return new JoinNode(kind, left, right, lk.map(compile), rk.map(compile), types, res === null ? null : compile(res), details);
  }

  /** Left-deep joins of the FROM list in written order; WHERE conjuncts pushed to scans or used as join keys. */
  private joinLeaves(leaves: Leaf[], conds: Expr[]): PlanNode {
    if (leaves.length === 0) {
      const node: PlanNode = new ResultNode();
      if (conds.length === 0) return node;
      const f = andOf(conds) as Expr;
      return new FilterNode(node, compile(f), exprText(f));
    }
    const pending = [...conds];
    const take = (pred: (c: Expr) => boolean): Expr[] => {
      const out: Expr[] = [];
      for (let i = 0; i < pending.length; ) {
        if (pred(pending[i])) out.push(...pending.splice(i, 1));
        else i++;
      }
      return out;
    };
    const within = (c: Expr, lo: number, hi: number): boolean => {
      const cols = columnsRead(c);
      return [...cols].every((i) => i >= lo && i < hi);
    };
    // Single-relation conjuncts go to their leaf (not those with subqueries: they need the full row layout).
    const nodes = leaves.map((leaf) => {
      const mine = take((c) => !hasSubquery(c) && columnsRead(c).size > 0 && within(c, leaf.offset, leaf.offset + leaf.width));
      return this.planLeaf(leaf, mine.map((c) => shiftAll(c, -leaf.offset)));
    });
    const order = leaves.some((l) => l.lateral === true) ? null : this.joinOrder(leaves, nodes, pending);
    if (order !== null) {
      const reordered = this.joinInOrder(leaves, nodes, order, take);
      if (pending.length === 0) return reordered;
      const f = andOf(pending) as Expr;
      return new FilterNode(reordered, compile(f), exprText(f));
    }
    let plan = nodes[0];
    let end = leaves[0].width;
    for (let i = 1; i < leaves.length; i++) {
      const hi = end + leaves[i].width;
      const lo = end;
      const conditions = take((c) => !hasSubquery(c) && within(c, 0, hi) && [...columnsRead(c)].some((x) => x >= lo));
      if (leaves[i].lateral === true) {
        const f = andOf(conditions);
        plan = new LateralJoinNode('inner', plan, nodes[i], f === null ? null : compile(f), f === null ? [] : [`Join Filter: ${exprText(f)}`]);
      } else plan = this.makeJoin('inner', plan, nodes[i], end, conditions, nodes[i] === leaves[i].node ? leaves[i].scan : null);
      end = hi;
    }
    if (pending.length > 0) {
      const f = andOf(pending) as Expr;
      plan = new FilterNode(plan, compile(f), exprText(f));
    }
    return plan;
  }

  /**
   * A greedy join order for a FROM list of plain items (no LATERAL): start from the item with the
   * fewest estimated rows, then add the smallest item joined to those so far by an equality (else
   * the smallest left). Null when that is the written order (nothing to change).
   */
  private joinOrder(leaves: Leaf[], nodes: PlanNode[], conds: Expr[]): number[] | null {
    if (leaves.length < 2) return null;
    const leafOf = (idx: number): number => leaves.findIndex((l) => idx >= l.offset && idx < l.offset + l.width);
    const linked = new Set<string>();
    // Key links: an equality with a table's whole (one-column) primary key on one side, so a row of
    // the other side matches at most one row: such joins do not multiply rows, others may.
    const keyLinked = new Set<string>();
    const isKey = (e: Expr): boolean => {
      if (e.k !== 'col') return false;
      const leaf = leaves[leafOf(e.idx)];
      return leaf.scan?.isKey?.(e.idx - leaf.offset) === true;
    };
    for (const c of conds) {
      if (c.k !== 'op' || c.op !== '=' || c.args.length !== 2 || hasSubquery(c)) continue;
      const a = new Set([...columnsRead(c.args[0])].map(leafOf));
      const b = new Set([...columnsRead(c.args[1])].map(leafOf));
      if (a.size !== 1 || b.size !== 1) continue;
      const [x] = a;
      const [y] = b;
      if (x !== y) {
        linked.add(`${x},${y}`);
        linked.add(`${y},${x}`);
        if (isKey(c.args[0]) || isKey(c.args[1])) {
          keyLinked.add(`${x},${y}`);
          keyLinked.add(`${y},${x}`);
        }
      }
    }
    const est = (i: number): number => nodes[i].estRows;
    const rest = leaves.map((_l, i) => i);
    const pick = (candidates: number[]): number => candidates.reduce((best, i) => (est(i) < est(best) ? i : best));
    const order = [pick(rest)];
    rest.splice(rest.indexOf(order[0]), 1);
    while (rest.length > 0) {
      const byKey = rest.filter((i) => order.some((j) => keyLinked.has(`${i},${j}`)));
      const connected = rest.filter((i) => order.some((j) => linked.has(`${i},${j}`)));
      const next = pick(byKey.length > 0 ? byKey : connected.length > 0 ? connected : rest);
      order.push(next);
      rest.splice(rest.indexOf(next), 1);
    }
    return order.every((i, k) => i === k) ? null : order;
  }

  /** Left-deep joins in `order`; the rows are then put back in FROM order (the layout expressions were bound to). */
  private joinInOrder(leaves: Leaf[], nodes: PlanNode[], order: number[], take: (pred: (c: Expr) => boolean) => Expr[]): PlanNode {
    const at: number[] = new Array<number>(leaves.length);
    let width = 0;
    for (const i of order) {
      at[i] = width;
      width += leaves[i].width;
    }
    const leafOf = (idx: number): number => leaves.findIndex((l) => idx >= l.offset && idx < l.offset + l.width);
    const moved = (idx: number): number => {
      const j = leafOf(idx);
      return at[j] + (idx - leaves[j].offset);
    };
    const remap = (e: Expr): Expr => mapExpr(e, (x) => (x.k === 'col' ? { ...x, idx: moved(x.idx) } : x));
    const joined = new Set<number>([order[0]]);
    let plan = nodes[order[0]];
    let end = leaves[order[0]].width;
    for (let k = 1; k < order.length; k++) {
      const i = order[k];
      const conditions = take((c) => {
        if (hasSubquery(c)) return false;
        const used = [...columnsRead(c)].map(leafOf);
        return used.includes(i) && used.every((j) => j === i || joined.has(j));
      });
      plan = this.makeJoin('inner', plan, nodes[i], end, conditions.map(remap), nodes[i] === leaves[i].node ? leaves[i].scan : null);
      joined.add(i);
      end += leaves[i].width;
    }
    const back: Expr[] = [];
    const cols: ColInfo[] = [];
    for (let g = 0; g < width; g++) {
      const c = plan.cols[moved(g)];
      back.push({ k: 'col', idx: moved(g), type: c.type, name: c.name });
      cols.push(c);
    }
    const restored: PlanNode = new ProjectNode(plan, back.map(compile), cols);
    restored.details = [`Join Order: ${order.map((i) => (leaves[i].scan?.node ?? leaves[i].node ?? nodes[i]).name.replace(/^Shard (Index |Key )?(Scan|Lookup)( using \S+)? on /, '')).join(', ')}`];
    return restored;
  }

  // ---- aggregates and windows ----

  /** Finds aggregate and window calls of this query level (not inside subqueries). */
  private collectCalls(node: unknown, aggs: N[], wins: N[], inWindowArgs = false): void {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const x of node) this.collectCalls(x, aggs, wins, inWindowArgs);
      return;
    }
    const o = node as N;
    if (o.SubLink !== undefined) return;
    if (o.FuncCall !== undefined) {
      const f = o.FuncCall as N;
      const name = funcName(f);
      if (f.over !== undefined) {
        wins.push(o);
        this.collectCalls(f.args, aggs, wins, true);
        this.collectCalls(f.agg_filter, aggs, wins, true);
        this.collectCalls(f.over, aggs, wins, true);
        return;
      }
      if (AGGREGATES.has(name)) {
        aggs.push(o);
        return;
      }
    }
    for (const v of Object.values(o)) this.collectCalls(v, aggs, wins, inWindowArgs);
  }

  private refuseAggregates(node: N, where: string): void {
    const aggs: N[] = [];
    const wins: N[] = [];
    this.collectCalls(node, aggs, wins);
    if (aggs.length > 0) throw sqlError('42803', `aggregate functions are not allowed in ${where}`, loc(bodyOf(aggs[0])));
    if (wins.length > 0) throw sqlError('42P20', `window functions are not allowed in ${where}`, loc(bodyOf(wins[0])));
  }

  private refuseWindows(node: N, where: string): void {
    const aggs: N[] = [];
    const wins: N[] = [];
    this.collectCalls(node, aggs, wins);
    if (wins.length > 0) throw sqlError('42P20', `window functions are not allowed in ${where}`, loc(bodyOf(wins[0])));
  }

  private bindAggregate(node: N, scope: Scope, agg: AggContext): void {
    const f = node.FuncCall as N;
    const name = funcName(f);
    const slot = agg.slots.get(node) as number;
    const saved = { agg: scope.agg, win: scope.win };
    scope.agg = null;
    scope.win = null;
    try {
      const nested: N[] = [];
      this.collectCalls(f.args, nested, []);
      if (nested.length > 0) throw sqlError('42803', 'aggregate function calls cannot be nested', loc(bodyOf(nested[0])));
      const star = f.agg_star === true;
      let args = list(f.args).map((a) => this.expr(a, scope));
      if (star && name !== 'count') throw sqlError('42809', `${name}(*) must be used with an aggregate that takes no arguments`, loc(f));
      const { type, argTypes } = aggregateType(name, args.map((a) => a.type), star, loc(f));
      args = args.map((a, i) => this.coerce(a, argTypes[i]));
      const filter = f.agg_filter === undefined ? null : this.coerce(this.expr(f.agg_filter as N, scope), 'bool');
      const order = list(f.agg_order).map((sb) => this.sortKey(this.expr((sb.SortBy as N).node as N, scope), sb.SortBy as N));
      const text = `${name}(${f.agg_distinct === true ? 'DISTINCT ' : ''}${star ? '*' : args.map((a) => exprText(a)).join(', ')})`;
      agg.specs[slot] = { fn: name, args: args.map(compile), argTypes, star, distinct: f.agg_distinct === true, filter: filter === null ? null : compile(filter), order, type, text };
      agg.raw[slot] = { fn: name, arg: args[0] ?? null, star, distinct: f.agg_distinct === true, filter: filter !== null, order: order.length > 0 };
    } finally {
      scope.agg = saved.agg;
      scope.win = saved.win;
    }
  }

  private bindWindow(node: N, scope: Scope, win: WinContext): void {
    const f = node.FuncCall as N;
    const name = funcName(f);
    const slot = win.slots.get(node) as number;
    let over = f.over as N;
    if (over.name !== undefined && over.partitionClause === undefined && over.orderClause === undefined) {
      const named = win.windows.get(over.name as string);
      if (named === undefined) throw sqlError('42704', `window "${String(over.name)}" does not exist`, loc(over), 'SQL_ERROR');
      over = { ...(named.WindowDef as N), frameOptions: over.frameOptions };
      if (((over.frameOptions as number) & 1) === 0) over.frameOptions = (named.WindowDef as N).frameOptions;
    } else if (over.refname !== undefined) {
      const named = win.windows.get(over.refname as string);
      if (named === undefined) throw sqlError('42704', `window "${String(over.refname)}" does not exist`, loc(over), 'SQL_ERROR');
      const nd = named.WindowDef as N;
      over = { ...over, partitionClause: nd.partitionClause, orderClause: over.orderClause ?? nd.orderClause };
    }
    const star = f.agg_star === true;
    const isAgg = AGGREGATES.has(name);
    if (!isAgg && !WINDOW_ONLY.has(name)) throw sqlError('42809', `function ${name} is not a window function or an aggregate`, loc(f), 'SQL_UNDEFINED_FUNCTION');
    let args = list(f.args).map((a) => this.post(this.expr(a, scope), scope));
    let type: SqlType;
    let argTypes: SqlType[];
    if (isAgg) {
      ({ type, argTypes } = aggregateType(name, args.map((a) => a.type), star, loc(f)));
    } else {
      ({ type, argTypes } = windowType(name, args, loc(f)));
    }
    args = args.map((a, i) => this.coerce(a, argTypes[i] ?? a.type));
    const partition = list(over.partitionClause).map((p) => this.post(this.expr(p, scope), scope));
    const order = list(over.orderClause).map((sb) => this.sortKey(this.post(this.expr((sb.SortBy as N).node as N, scope), scope), sb.SortBy as N));
    const opts = (over.frameOptions as number | undefined) ?? 1058;
    const offsetOf = (n: unknown): Compiled | null => {
      if (n === undefined) return null;
      const e = this.expr(n as N, scope);
      if (opts & 0x2 && order.length === 1) {
        const kt = order[0].type;
        const target: SqlType = kt === 'date' || kt === 'timestamp' || kt === 'timestamptz' ? 'interval' : kt;
        return compile(this.coerce(e, target));
      }
      return compile(this.coerce(e, 'int8'));
    };
    if (opts & 0x2 && opts & (0x800 | 0x1000 | 0x2000 | 0x4000) && order.length !== 1) {
      throw sqlError('42P20', 'RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column', loc(over));
    }
    const filter = f.agg_filter === undefined ? null : compile(this.coerce(this.post(this.expr(f.agg_filter as N, scope), scope), 'bool'));
    win.specs[slot] = {
      fn: name,
      args: args.map(compile),
      argTypes,
      star,
      isAgg,
      filter,
      partition: partition.map(compile),
      partitionTypes: partition.map((p) => p.type),
      order,
      frameOptions: opts,
      startOffset: offsetOf(over.startOffset),
      endOffset: offsetOf(over.endOffset),
      type,
      text: name,
    };
  }

  /** Post-aggregate expressions: checks that plain columns are grouped (42803). */
  private post(e: Expr, scope: Scope): Expr {
    return scope.agg === null ? e : this.grouped(e, scope);
  }

  private grouped(e: Expr, scope: Scope): Expr {
    const agg = scope.agg as AggContext;
    const check = (x: Expr): void => {
      if (agg.groups.some((g) => sameExpr(g, x))) return;
      if (x.k === 'col' && x.idx >= agg.nAggs) {
        const win = scope.win;
        if (win !== null && x.idx >= win.base) return;
        throw sqlError('42803', `column "${x.name}" must appear in the GROUP BY clause or be used in an aggregate function`, x.location);
      }
      for (const c of childrenOf(x)) check(c);
    };
    check(e);
    return e;
  }

  private groupExpr(g: N, targets: N[], scope: Scope, starCount: number): Expr {
    // GROUP BY 2: the second output column; GROUP BY name: an input column, else an output alias.
    const k = kindOf(g);
    const b = bodyOf(g);
    if (k === 'A_Const' && b.ival !== undefined) {
      const n = ((b.ival as N).ival as number | undefined) ?? 0;
      if (starCount > 0) notSupported('GROUP BY position with * in the select list', loc(b));
      if (n < 1 || n > targets.length) throw sqlError('42P10', `GROUP BY position ${n} is not in select list`, loc(b));
      const val = (targets[n - 1].ResTarget as N).val as N;
      const aggs: N[] = [];
      this.collectCalls(val, aggs, []);
      if (aggs.length > 0) throw sqlError('42803', 'aggregate functions are not allowed in GROUP BY', loc(bodyOf(aggs[0])));
      return this.expr(val, scope);
    }
    if (k === 'ColumnRef') {
      const fields = list(b.fields);
      if (fields.length === 1 && kindOf(fields[0]) === 'String') {
        const name = str(fields[0]);
        const inInput = scope.entries.some((e) => e.name === name && e.unqualified);
        if (!inInput) {
          const t = targets.find((t) => (t.ResTarget as N).name === name);
          if (t !== undefined) return this.expr((t.ResTarget as N).val as N, scope);
        }
      }
    }
    this.refuseAggregates(g, 'GROUP BY');
    return this.expr(g, scope);
  }

  // ---- targets ----

  private isStar(val: N): boolean {
    if (kindOf(val) !== 'ColumnRef') return false;
    const fields = list(bodyOf(val).fields);
    return fields.length > 0 && kindOf(fields[fields.length - 1]) === 'A_Star';
  }

  private expandStar(val: N, scope: Scope): Entry[] {
    const fields = list(bodyOf(val).fields);
    if (fields.length === 1) {
      const all = scope.entries.filter((e) => e.star);
      if (scope.entries.length === 0 && scope.rels.size === 0) throw sqlError('42601', 'SELECT * with no tables specified is not valid', loc(bodyOf(val)));
      for (const e of all) e.scan?.need(e.local);
      return all.map((e) => ({ ...e, expr: shiftAll(e.expr, scope.shift) }));
    }
    const rel = str(fields[fields.length - 2]);
    if (!scope.rels.has(rel)) throw sqlError('42P01', `missing FROM-clause entry for table "${rel}"`, loc(bodyOf(val)));
    // x.*: every column of x, USING-merged ones included (as x's own column), hidden ones not.
    const mine = scope.entries.filter((e) => e.rel === rel && e.hidden !== true);
    for (const e of mine) e.scan?.need(e.local);
    return mine.map((e) => ({ ...e, expr: shiftAll(e.expr, scope.shift) }));
  }

  /** The output column name PostgreSQL gives an expression (`?column?` when it has none). */
  outputName(val: unknown): string {
    return this.nameOf(val as N);
  }

  private nameOf(val: N): string {
    const k = kindOf(val);
    const b = bodyOf(val);
    if (k === 'ColumnRef') {
      const fields = list(b.fields);
      return str(fields[fields.length - 1]);
    }
    if (k === 'FuncCall') {
      const name = funcName(b);
      return name === 'substring' || name === 'btrim' || name === 'ltrim' || name === 'rtrim' ? (name.endsWith('trim') ? 'btrim' : name) : name;
    }
    if (k === 'TypeCast') {
      const inner = this.nameOf(b.arg as N);
      if (inner !== '?column?') return inner;
      const names = list((b.typeName as N).names).map(str);
      const t = names[names.length - 1];
      return { int4: 'int4', int8: 'int8', bool: 'bool', float8: 'float8', numeric: 'numeric', text: 'text', varchar: 'varchar', date: 'date', interval: 'interval' }[t] ?? t;
    }
    if (k === 'CaseExpr') return 'case';
    if (k === 'CoalesceExpr') return 'coalesce';
    if (k === 'MinMaxExpr') return b.op === 'IS_GREATEST' ? 'greatest' : 'least';
    if (k === 'A_Expr' && b.kind === 'AEXPR_NULLIF') return 'nullif';
    if (k === 'SubLink') {
      if (b.subLinkType === 'EXISTS_SUBLINK') return 'exists';
      if (b.subLinkType === 'EXPR_SUBLINK') {
        const sub = (b.subselect as N).SelectStmt as N;
        const t = list(sub?.targetList);
        if (t.length === 1 && (t[0].ResTarget as N).name === undefined) return this.nameOf((t[0].ResTarget as N).val as N);
        if (t.length === 1) return (t[0].ResTarget as N).name as string;
      }
    }
    if (k === 'SQLValueFunction') {
      const op = String(b.op).replace('SVFOP_', '').toLowerCase();
      return op;
    }
    return '?column?';
  }

  /** ORDER BY/DISTINCT ON naming an output column: by ordinal, or a bare name that is an output column. */
  private outputIndex(node: N, cols: ColInfo[], exprs: Expr[]): number | null {
    const k = kindOf(node);
    const b = bodyOf(node);
    if (k === 'A_Const' && b.ival !== undefined) {
      const n = ((b.ival as N).ival as number | undefined) ?? 0;
      if (n < 1 || n > exprs.length) throw sqlError('42P10', `ORDER BY position ${n} is not in select list`, loc(b));
      return n - 1;
    }
    if (k === 'ColumnRef') {
      const fields = list(b.fields);
      if (fields.length === 1 && kindOf(fields[0]) === 'String') {
        const name = str(fields[0]);
        const hits = cols.map((c, i) => (c.name === name ? i : -1)).filter((i) => i >= 0);
        if (hits.length > 1) {
          // Ambiguous only when the expressions differ.
          if (hits.some((h) => !sameExpr(exprs[h], exprs[hits[0]]))) throw sqlError('42702', `ORDER BY "${name}" is ambiguous`, loc(b));
        }
        if (hits.length > 0) return hits[0];
      }
    }
    return null;
  }

  private outputRef(node: N, cols: ColInfo[]): Expr | null {
    const idx = this.outputIndex(
      node,
      cols,
      cols.map((c, i) => ({ k: 'col', idx: i, type: c.type, name: c.name }) as Expr),
    );
    return idx === null ? null : { k: 'col', idx, type: cols[idx].type, name: cols[idx].name };
  }

  private sortKey(e: Expr, b: N, text?: string): SortKey {
    const desc = b.sortby_dir === 'SORTBY_DESC';
    if (b.sortby_dir === 'SORTBY_USING') notSupported('ORDER BY … USING');
    const nulls = b.sortby_nulls as string | undefined;
    const nullsFirst = nulls === 'SORTBY_NULLS_FIRST' ? true : nulls === 'SORTBY_NULLS_LAST' ? false : desc;
    const typed = e.type === 'unknown' ? this.coerce(e, 'text') : e;
    return { f: compile(typed), desc, nullsFirst, type: typed.type, text: text ?? exprText(typed) };
  }

  private namer(_plan: PlanNode): undefined {
    return undefined;
  }

  // ---- expressions ----

  private expr(n: N, scope: Scope): Expr {
    const k = kindOf(n);
    const b = bodyOf(n);
    switch (k) {
      case 'A_Const':
        return constOf(b);
      case 'ColumnRef':
        return this.columnRef(b, scope);
      case 'ParamRef': {
        const num = (b.number as number | undefined) ?? 0;
        if (num < 1 || num > 65535) throw sqlError('42P02', `there is no parameter $${num}`, loc(b));
        const known = this.o.paramTypes[num - 1];
        return { k: 'param', n: num, type: known ?? 'unknown' };
      }
      case 'TypeCast':
        return this.typeCast(b, scope);
      case 'A_Expr':
        return this.aExpr(b, scope);
      case 'BoolExpr': {
        const args = list(b.args).map((a) => this.coerce(this.expr(a, scope), 'bool', loc(bodyOf(a)), `argument of ${String(b.boolop).replace('_EXPR', '')}`));
        if (b.boolop === 'NOT_EXPR') return { k: 'not', arg: args[0], type: 'bool' };
        return { k: b.boolop === 'AND_EXPR' ? 'and' : 'or', args: args.flatMap((a) => (a.k === (b.boolop === 'AND_EXPR' ? 'and' : 'or') ? (a as { args: readonly Expr[] }).args : [a])), type: 'bool' };
      }
      case 'NullTest':
        return { k: 'isnull', arg: this.expr(b.arg as N, scope), neg: b.nulltesttype === 'IS_NOT_NULL', type: 'bool' };
      case 'BooleanTest': {
        const t = String(b.booltesttype);
        const arg = this.coerce(this.expr(b.arg as N, scope), 'bool', loc(b), 'argument of IS TRUE');
        return { k: 'booltest', arg, test: t.includes('TRUE') ? 'true' : t.includes('FALSE') ? 'false' : 'unknown', neg: t.includes('NOT'), type: 'bool' };
      }
      case 'CaseExpr':
        return this.caseExpr(b, scope);
      case 'CoalesceExpr': {
        const args = list(b.args).map((a) => this.expr(a, scope));
        let t = commonType(args.map((a) => a.type), 'COALESCE', loc(b));
        if (t === 'unknown') t = 'text';
        return { k: 'coalesce', args: args.map((a) => this.coerce(a, t)), type: t };
      }
      case 'MinMaxExpr': {
        const args = list(b.args).map((a) => this.expr(a, scope));
        const name = b.op === 'IS_GREATEST' ? 'GREATEST' : 'LEAST';
        let t = commonType(args.map((a) => a.type), name, loc(b));
        if (t === 'unknown') t = 'text';
        return { k: 'minmax', greatest: b.op === 'IS_GREATEST', args: args.map((a) => this.coerce(a, t)), type: t };
      }
      case 'FuncCall':
        return this.funcCall(n, b, scope);
      case 'SubLink':
        return this.subLink(b, scope);
      case 'SQLValueFunction': {
        const op = String(b.op);
        if (op === 'SVFOP_CURRENT_USER' || op === 'SVFOP_SESSION_USER' || op === 'SVFOP_USER' || op === 'SVFOP_CURRENT_ROLE') {
          return { k: 'const', value: (this.o.security?.principal ?? SYSTEM).id, type: 'text' };
        }
        const name = op === 'SVFOP_CURRENT_DATE' ? 'current_date' : op === 'SVFOP_CURRENT_TIMESTAMP' || op === 'SVFOP_CURRENT_TIMESTAMP_N' ? 'now' : op === 'SVFOP_LOCALTIMESTAMP' || op === 'SVFOP_LOCALTIMESTAMP_N' ? 'localtimestamp' : null;
        if (name === null) notSupported(op.replace('SVFOP_', '').toLowerCase(), loc(b));
        const impl = resolveFunction(name, [], loc(b));
        return { k: 'func', name, impl, args: [], type: impl.returns };
      }
      case 'A_ArrayExpr':
        notSupported('arrays', loc(b));
      // falls through
      case 'RowExpr':
        notSupported('row constructors', loc(b));
      // falls through
      case 'CollateClause': {
        const names = list(b.collname).map(str);
        if (names.length === 1 && (names[0] === 'C' || names[0] === 'POSIX' || names[0] === 'default')) return this.expr(b.arg as N, scope);
        notSupported(`collation "${names.join('.')}"`, loc(b));
      }
      // falls through
      default:
        notSupported(`the expression ${k}`, loc(b));
    }
  }

  private columnRef(b: N, scope: Scope): Expr {
    const fields = list(b.fields);
    if (fields.some((f) => kindOf(f) === 'A_Star')) throw sqlError('42601', 'a * is only allowed in the select list, or as count(*)', loc(b));
    const names = fields.map(str);
    let rel: string | null = null;
    let col: string;
    if (names.length === 1) col = names[0];
    else if (names.length === 2) [rel, col] = names;
    else if (names.length === 3) {
      if (names[0] !== 'public') throw sqlError('3F000', `schema "${names[0]}" does not exist`, loc(b));
      rel = names[1];
      col = names[2];
    } else throw sqlError('42601', `improper qualified name (too many dotted names): ${names.join('.')}`, loc(b));
    let depth = 0;
    let relSeen = false;
    for (let s: Scope | null = scope; s !== null; s = s.parent, depth++) {
      const hits = s.entries.filter((e) => e.name === col && (rel === null ? e.unqualified : e.rel === rel));
      if (rel !== null && s.rels.has(rel)) relSeen = true;
      if (hits.length > 1) {
        throw sqlError('42702', `column reference "${rel === null ? col : `${rel}.${col}`}" is ambiguous`, loc(b));
      }
      if (hits.length === 1) {
        const e = hits[0];
        e.scan?.need(e.local);
        if (e.expr.k !== 'col') {
          // A merged USING column: needs every column it reads.
          for (const x of s.entries) if (x.scan !== null && columnsRead(e.expr).has((x.expr as { idx: number }).idx)) x.scan.need(x.local);
        }
        const at = loc(b);
        const shifted = shiftAll(e.expr, s.shift);
        if (depth === 0) return shifted.k === 'col' && at !== undefined ? { ...shifted, location: at } : shifted;
        for (const f of this.frames) if (f.level > s.level) f.correlated = true;
        return mapExpr(shifted, (x) => (x.k === 'col' ? { k: 'outer', depth, idx: x.idx, type: x.type, name: x.name } : x));
      }
      if (rel !== null && s.rels.has(rel)) break;
    }
    if (rel !== null && !relSeen) throw sqlError('42P01', `missing FROM-clause entry for table "${rel}"`, loc(b));
    if (rel !== null) throw sqlError('42703', `column ${rel}.${col} does not exist`, loc(b));
    throw sqlError('42703', `column "${col}" does not exist`, loc(b));
  }

  private typeCast(b: N, scope: Scope): Expr {
    const tn = b.typeName as N;
    const names = list(tn.names).map(str);
    const typeName = names[names.length - 1];
    if (tn.arrayBounds !== undefined) notSupported('arrays', loc(tn));
    const t = typeFromName(typeName);
    if (t === null) throw sqlError('42704', `type "${typeName}" does not exist`, loc(tn), 'SQL_TYPE_MISMATCH');
    const argNode = b.arg as N;
    let arg = this.expr(argNode, scope);
    // interval '90' day: a bare number takes the field's unit.
    if (t === 'interval' && arg.k === 'const' && typeof arg.value === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(arg.value)) {
      const mask = ((list(tn.typmods)[0]?.A_Const as N | undefined)?.ival as N | undefined)?.ival as number | undefined;
      const unit = mask === undefined ? 'second' : mask & 4 ? 'year' : mask & 2 ? 'month' : mask & 8 ? 'day' : mask & 1024 ? 'hour' : mask & 2048 ? 'minute' : 'second';
      arg = { k: 'const', value: `${arg.value.trim()} ${unit}`, type: 'unknown' };
    }
    // varchar(n)/char(n) lengths and numeric(p,s) are not enforced by casts here; numeric scale rounds.
    let out = this.castTo(arg, t, loc(b) ?? loc(tn));
    if (t === 'numeric' && list(tn.typmods).length === 2) {
      const scale = (((list(tn.typmods)[1].A_Const as N).ival as N | undefined)?.ival as number | undefined) ?? 0;
      const impl = resolveFunction('round', ['numeric', 'int4']);
      out = { k: 'func', name: 'round', impl, args: [out, { k: 'const', value: scale, type: 'int4' }], type: 'numeric' };
    }
    return out;
  }

  /** An explicit cast (folded now for constants, so a bad literal fails at its position). */
  private castTo(e: Expr, t: SqlType, location?: number): Expr {
    if (e.type === t) return e;
    if (e.k === 'param' && e.type === 'unknown') {
      this.o.paramTypes[e.n - 1] = t;
      return { ...e, type: t };
    }
    // A literal that does not convert is reported at the literal (as PostgreSQL does).
    if (e.k === 'const') return { k: 'const', value: castValue(e.value, e.type, t, e.location ?? location), type: t, ...(e.location === undefined ? {} : { location: e.location }) };
    return { k: 'cast', arg: e, type: t, ...(location === undefined ? {} : { location }) };
  }

  /** An implicit coercion to `t` (unknown literals and parameters take it; others must cast implicitly). */
  private coerce(e: Expr, t: SqlType, location?: number, context?: string): Expr {
    if (e.type === t) return e;
    if (e.type === 'unknown') return this.castTo(e, t, location);
    if (implicitOk(e.type, t)) return this.castTo(e, t, location);
    if (context !== undefined) throw sqlError('42804', `${context} must be type ${TYPE_DISPLAY[t]}, not type ${TYPE_DISPLAY[e.type]}`, location);
    throw sqlError('42804', `cannot cast type ${TYPE_DISPLAY[e.type]} to ${TYPE_DISPLAY[t]} implicitly`, location);
  }

  private op(name: string, l: Expr, r: Expr, location?: number): Expr {
    const impl = this.resolveOp(name, l.type, r.type, location);
    // anynonarray || text: the non-text side is cast to text (PostgreSQL's textanycat).
    const conv = (e: Expr, t: SqlType): Expr => (name === '||' && t === 'text' && e.type !== 'unknown' ? this.castTo(e, t, location) : this.coerce(e, t, location));
    const args = [conv(l, impl.left as SqlType), conv(r, impl.right)];
    return foldConst({ k: 'op', op: name, impl, args, type: impl.returns });
  }

  private resolveOp(name: string, l: SqlType | null, r: SqlType, location?: number): OperatorImpl {
    return resolveOperator(name, l, r, location);
  }

  private aExpr(b: N, scope: Scope): Expr {
    const kind = b.kind as string;
    const name = list(b.name).map(str).join('.');
    const location = loc(b);
    switch (kind) {
      case 'AEXPR_OP': {
        if (b.lexpr === undefined) {
          const r = this.expr(b.rexpr as N, scope);
          if (name === '-' && r.k === 'const' && (typeof r.value === 'number' || typeof r.value === 'bigint')) {
            // -2147483648 and friends: fold the sign into the literal.
            const v = typeof r.value === 'bigint' ? -r.value : -r.value;
            const value = typeof v === 'bigint' && v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
            // PostgreSQL negates the literal's text: -2147483648 is an int4, -9223372036854775808 an int8.
            let type = r.type;
            if (type === 'int8' && typeof value === 'number' && value >= -2147483648 && value <= 2147483647) type = 'int4';
            if (type === 'numeric' && typeof r.value === 'number' && Number.isInteger(r.value) && -r.value === -9223372036854775808) {
              return { k: 'const', value: -(2n ** 63n), type: 'int8' };
            }
            return { k: 'const', value, type };
          }
          const impl = this.resolveOp(name, null, r.type, location);
          return foldConst({ k: 'op', op: name, impl, args: [this.coerce(r, impl.right, location)], type: impl.returns });
        }
        return this.op(name, this.expr(b.lexpr as N, scope), this.expr(b.rexpr as N, scope), location);
      }
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL': {
        // x op ANY (ARRAY[a, b…]): each element compared; ANY is an OR, ALL an AND (three-valued).
        const r = b.rexpr as N;
        if (kindOf(r) !== 'A_ArrayExpr') notSupported(`${name} ANY/ALL over a non-literal array`, location);
        const l = this.expr(b.lexpr as N, scope);
        const items = list(bodyOf(r).elements).map((x) => this.expr(x, scope));
        if (items.length === 0) return { k: 'const', value: kind === 'AEXPR_OP_ALL', type: 'bool' };
        const parts = items.map((i) => this.op(name, l, i, location));
        return { k: kind === 'AEXPR_OP_ANY' ? 'or' : 'and', args: parts, type: 'bool' };
      }
      case 'AEXPR_DISTINCT':
      case 'AEXPR_NOT_DISTINCT': {
        const l = this.expr(b.lexpr as N, scope);
        const r = this.expr(b.rexpr as N, scope);
        const impl = this.resolveOp('=', l.type, r.type, location);
        return { k: 'distinct', a: this.coerce(l, impl.left as SqlType, location), b: this.coerce(r, impl.right, location), eq: impl, neg: kind === 'AEXPR_NOT_DISTINCT', type: 'bool' };
      }
      case 'AEXPR_NULLIF': {
        const l = this.expr(b.lexpr as N, scope);
        const r = this.expr(b.rexpr as N, scope);
        const impl = this.resolveOp('=', l.type, r.type, location);
        const a = this.coerce(l, impl.left as SqlType, location);
        return { k: 'nullif', a, b: this.coerce(r, impl.right, location), eq: impl, type: a.type === 'unknown' ? 'text' : a.type };
      }
      case 'AEXPR_IN': {
        const l = this.expr(b.lexpr as N, scope);
        const items = list((b.rexpr as N).List !== undefined ? ((b.rexpr as N).List as N).items : b.rexpr).map((x) => this.expr(x, scope));
        const t0 = commonType([l.type, ...items.map((i) => i.type)], 'IN', location);
        const t = t0 === 'unknown' ? 'text' : t0;
        const arg = this.coerce(l, t, location);
        const conv = items.map((i) => this.coerce(i, t, location));
        const eqs = conv.map(() => this.resolveOp('=', t, t, location));
        return { k: 'in', arg, list: conv, eqs, neg: name === '<>', type: 'bool' };
      }
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE': {
        const l = this.expr(b.lexpr as N, scope);
        const r = b.rexpr as N;
        if (kindOf(r) === 'FuncCall' && funcName(bodyOf(r)) === 'like_escape') notSupported('LIKE … ESCAPE', location);
        return this.op(name, l, this.expr(r, scope), location);
      }
      case 'AEXPR_SIMILAR':
        notSupported('SIMILAR TO', location);
      // falls through
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN':
      case 'AEXPR_BETWEEN_SYM':
      case 'AEXPR_NOT_BETWEEN_SYM': {
        const x = this.expr(b.lexpr as N, scope);
        const [lo, hi] = list(((b.rexpr as N).List as N).items).map((i) => this.expr(i, scope));
        const between = (a: Expr, c: Expr): Expr => ({ k: 'and', args: [this.op('>=', x, a, location), this.op('<=', x, c, location)], type: 'bool' });
        let e = between(lo, hi);
        if (kind.endsWith('_SYM')) e = { k: 'or', args: [e, between(hi, lo)], type: 'bool' };
        return kind.includes('NOT') ? { k: 'not', arg: e, type: 'bool' } : e;
      }
      default:
        notSupported(`the operator form ${kind}`, location);
    }
  }

  private caseExpr(b: N, scope: Scope): Expr {
    const operand = b.arg === undefined ? null : this.expr(b.arg as N, scope);
    const whens = list(b.args).map((w) => {
      const cw = w.CaseWhen as N;
      const cond = operand === null ? this.coerce(this.expr(cw.expr as N, scope), 'bool', loc(cw), 'argument of CASE/WHEN') : this.op('=', operand, this.expr(cw.expr as N, scope), loc(cw));
      return { cond, then: this.expr(cw.result as N, scope) };
    });
    const other: Expr = b.defresult === undefined ? { k: 'const', value: null, type: 'unknown' } : this.expr(b.defresult as N, scope);
    let t = commonType([...whens.map((w) => w.then.type), other.type], 'CASE', loc(b));
    if (t === 'unknown') t = 'text';
    return { k: 'case', whens: whens.map((w) => ({ cond: w.cond, then: this.coerce(w.then, t) })), else: this.coerce(other, t), type: t };
  }

  private funcCall(n: N, b: N, scope: Scope): Expr {
    const qualified = list(b.funcname).map(str);
    if (qualified.length === 2 && qualified[0].toLowerCase() === 'auth') return this.authFunction(qualified[1].toLowerCase(), b);
    const name = funcName(b);
    if (b.over !== undefined) {
      const win = scope.win;
      const slot = win?.slots.get(n);
      if (win === null || slot === undefined) throw sqlError('42P20', 'window functions are not allowed here', loc(b));
      const spec = win.specs[slot] as WindowSpec;
      return { k: 'col', idx: win.base + slot, type: spec.type, name };
    }
    if (AGGREGATES.has(name)) {
      const agg = scope.agg;
      const slot = agg?.slots.get(n);
      if (agg === null || slot === undefined) throw sqlError('42803', 'aggregate functions are not allowed here', loc(b));
      const spec = agg.specs[slot] as AggSpec;
      return { k: 'col', idx: slot, type: spec.type, name };
    }
    if (WINDOW_ONLY.has(name)) throw sqlError('42809', `window function ${name} requires an OVER clause`, loc(b), 'SQL_UNDEFINED_FUNCTION');
    if (b.agg_star === true) throw sqlError('42809', `${name}(*) specified, but ${name} is not an aggregate function`, loc(b), 'SQL_UNDEFINED_FUNCTION');
    if (b.agg_distinct === true) throw sqlError('42809', `DISTINCT specified, but ${name} is not an aggregate function`, loc(b), 'SQL_UNDEFINED_FUNCTION');
    let args = list(b.args).map((a) => this.expr(a, scope));
    if (name === 'extract' || name === 'date_part') {
      // extract(field from x): the field is text.
      args = [this.coerce(args[0], 'text'), ...args.slice(1)];
    }
    const impl = resolveFunction(name, args.map((a) => a.type), loc(b));
    const conv = args.map((a, i) => this.coerce(a, impl.args[i] ?? impl.args[impl.args.length - 1] ?? a.type, loc(b)));
    const e: Expr = { k: 'func', name, impl, args: conv, type: impl.returns };
    return impl.volatile ? e : foldConst(e);
  }

  /** auth.uid() (text: the subject), auth.role() (text: the first role), auth.jwt() (jsonb: the claims): constants of the statement. */
  private authFunction(name: string, b: N): Expr {
    const args = list(b.args).map((a) => this.expr(a, new Scope(null, new Map())));
    const p = this.o.security?.principal ?? SYSTEM;
    if (args.length === 0 && b.agg_star !== true && b.over === undefined) {
      if (name === 'uid') return { k: 'const', value: p.sub, type: 'text' };
      if (name === 'role') return { k: 'const', value: p.roles[0] ?? null, type: 'text' };
      if (name === 'jwt') return { k: 'const', value: new Jsonb(p.claims), type: 'jsonb' };
    }
    throw sqlError('42883', `function auth.${name}(${args.map((a) => TYPE_DISPLAY[a.type]).join(', ')}) does not exist`, loc(b));
  }

  private subLink(b: N, scope: Scope): Expr {
    const type = b.subLinkType as string;
    const frame = { level: scope.level + 1, correlated: false };
    this.frames.push(frame);
    let q: BoundQuery;
    try {
      q = this.selectStmt(b.subselect as N, scope, scope.ctes);
    } finally {
      this.frames.pop();
    }
    const correlated = frame.correlated;
    switch (type) {
      case 'EXISTS_SUBLINK':
        return { k: 'subq', kind: 'exists', plan: q.plan, test: null, cmp: null, correlated, type: 'bool' };
      case 'EXPR_SUBLINK': {
        if (q.cols.length !== 1) throw sqlError('42601', 'subquery must return only one column', loc(b));
        return { k: 'subq', kind: 'scalar', plan: q.plan, test: null, cmp: null, correlated, type: q.cols[0].type };
      }
      case 'ANY_SUBLINK':
      case 'ALL_SUBLINK': {
        const testNode = b.testexpr as N;
        if (kindOf(testNode) === 'RowExpr') {
          const items = list(bodyOf(testNode).args).map((a) => this.expr(a, scope));
          if (items.length !== q.cols.length) throw sqlError('42601', items.length < q.cols.length ? 'subquery has too many columns' : 'subquery has too few columns', loc(b));
          const opName = list(b.operName).map(str).join('.') || '=';
          const impls = items.map((it, i) => this.resolveOp(opName, it.type, q.cols[i].type, loc(b)));
          let plan = q.plan;
          if (impls.some((impl, i) => impl.right !== q.cols[i].type)) {
            plan = new ProjectNode(
              plan,
              q.cols.map((c, i) => compile(this.coerce({ k: 'col', idx: i, type: c.type, name: c.name }, impls[i].right, loc(b)))),
              q.cols.map((c, i) => ({ ...c, type: impls[i].right })),
            );
          }
          return {
            k: 'subq',
            kind: type === 'ANY_SUBLINK' ? 'any' : 'all',
            plan,
            test: null,
            cmp: null,
            rowTests: items.map((it, i) => this.coerce(it, impls[i].left as SqlType, loc(b))),
            rowCmps: impls,
            correlated,
            type: 'bool',
          };
        }
        if (q.cols.length !== 1) throw sqlError('42601', q.cols.length > 1 ? 'subquery has too many columns' : 'subquery has too few columns', loc(b));
        const opName = list(b.operName).map(str).join('.') || '=';
        const test = this.expr(b.testexpr as N, scope);
        const t = q.cols[0].type;
        const impl = this.resolveOp(opName, test.type, t, loc(b));
        let plan = q.plan;
        if (impl.right !== t) {
          const conv = this.coerce({ k: 'col', idx: 0, type: t, name: q.cols[0].name }, impl.right, loc(b));
          plan = new ProjectNode(plan, [compile(conv)], [{ ...q.cols[0], type: impl.right }]);
        }
        return { k: 'subq', kind: type === 'ANY_SUBLINK' ? 'any' : 'all', plan, test: this.coerce(test, impl.left as SqlType, loc(b)), cmp: impl, correlated, type: 'bool' };
      }
      case 'ARRAY_SUBLINK':
        notSupported('ARRAY(subquery)', loc(b));
      // falls through
      default:
        notSupported(`${type}`, loc(b));
    }
  }
}

// ---- leaves ----

/** A subquery conjunct turned into a semi (anti) join: its plan answers the inner keys. */
type Decorrelated = { anti: boolean; plan: PlanNode; innerKeys: Expr[]; outerKeys: Expr[]; types: SqlType[] };

/** A FROM item: its plan (node), or, for a JOIN, how to plan it once the WHERE conjuncts it takes are known (build). */
type Leaf = { node: PlanNode | null; build?: (conds: Expr[]) => PlanNode; width: number; offset: number; scan: ScanHandle | null; nullable: boolean; lateral?: boolean };

// ---- utilities ----

function funcName(f: N): string {
  const names = list(f.funcname).map(str);
  const n = names[names.length - 1].toLowerCase();
  return n;
}

function constOf(b: N): Expr {
  const e = constValue(b);
  const at = loc(b);
  return at === undefined || e.k !== 'const' ? e : { ...e, location: at };
}

function constValue(b: N): Expr {
  if (b.isnull === true) return { k: 'const', value: null, type: 'unknown' };
  if (b.ival !== undefined) return { k: 'const', value: ((b.ival as N).ival as number | undefined) ?? 0, type: 'int4' };
  if (b.fval !== undefined) {
    const s = (b.fval as N).fval as string;
    if (/^[-+]?\d+$/.test(s)) {
      const v = BigInt(s);
      // PostgreSQL's make_const: an integer literal is int4 when it fits, else int8, else numeric.
      if (v >= -2147483648n && v <= 2147483647n) return { k: 'const', value: Number(v), type: 'int4' };
      if (v >= -(2n ** 63n) && v < 2n ** 63n) return { k: 'const', value: v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v, type: 'int8' };
      return { k: 'const', value: Number(s), type: 'numeric' };
    }
    return { k: 'const', value: Number(s), type: 'numeric' };
  }
  if (b.boolval !== undefined) return { k: 'const', value: ((b.boolval as N).boolval as boolean | undefined) ?? false, type: 'bool' };
  if (b.sval !== undefined) return { k: 'const', value: ((b.sval as N).sval as string | undefined) ?? '', type: 'unknown' };
  if (b.bsval !== undefined) notSupported('bit strings', loc(b));
  return { k: 'const', value: null, type: 'unknown' };
}

function implicitOk(from: SqlType, to: SqlType): boolean {
  if (from === to || from === 'unknown') return true;
  const rf = NUMERIC_RANK[from];
  const rt = NUMERIC_RANK[to];
  if (rf !== undefined && rt !== undefined) return rf <= rt;
  if (from === 'date' && (to === 'timestamp' || to === 'timestamptz')) return true;
  if (from === 'timestamp' && to === 'timestamptz') return true;
  if (from === 'timestamptz' && to === 'timestamp') return true;
  if (from === 'uuid' && to === 'text') return false;
  return false;
}

/** Evaluates operators whose arguments are all constants (errors surface at bind time, as PostgreSQL's folding). */
function foldConst(e: Expr): Expr {
  if (e.k === 'op' && e.args.every((a) => a.k === 'const')) {
    const vals = e.args.map((a) => (a as { value: Value }).value);
    if (vals.some((v) => v === null)) return { k: 'const', value: null, type: e.type };
    const v = e.args.length === 1 ? e.impl.call(null, vals[0]) : e.impl.call(vals[0], vals[1]);
    return { k: 'const', value: v, type: e.type };
  }
  if (e.k === 'func' && e.args.every((a) => a.k === 'const') && !e.impl.volatile && e.name !== 'now' && e.name !== 'current_date' && e.name !== 'localtimestamp') {
    const vals = e.args.map((a) => (a as { value: Value }).value);
    if (e.impl.strict && vals.some((v) => v === null)) return { k: 'const', value: null, type: e.type };
    return { k: 'const', value: e.impl.call(vals, { nowUs: Date.now() * 1000 }), type: e.type };
  }
  return e;
}

function shiftAll(e: Expr, delta: number): Expr {
  if (delta === 0) return e;
  return mapExpr(e, (x) => (x.k === 'col' ? { ...x, idx: x.idx + delta } : x));
}

function childrenOf(e: Expr): Expr[] {
  const out: Expr[] = [];
  walkChildren(e, (c) => out.push(c));
  return out;
}

function walkChildren(e: Expr, f: (c: Expr) => void): void {
  let first = true;
  walk(e, (x) => {
    if (first) {
      first = false;
      return;
    }
    f(x);
  });
}

function hasSubquery(e: Expr): boolean {
  let found = false;
  walk(e, (x) => {
    if (x.k === 'subq') found = true;
  });
  return found;
}

export function sameExpr(a: Expr, b: Expr): boolean {
  if (a.k !== b.k || a.type !== b.type) return false;
  switch (a.k) {
    case 'col':
      return a.idx === (b as typeof a).idx;
    case 'outer':
      return a.idx === (b as typeof a).idx && a.depth === (b as typeof a).depth;
    case 'const':
      return a.value === (b as typeof a).value;
    case 'param':
      return a.n === (b as typeof a).n;
    case 'op':
      return a.op === (b as typeof a).op && a.args.every((x, i) => sameExpr(x, (b as typeof a).args[i]));
    case 'func':
      return a.name === (b as typeof a).name && a.args.length === (b as typeof a).args.length && a.args.every((x, i) => sameExpr(x, (b as typeof a).args[i]));
    case 'subq':
      return a === b;
    default: {
      const ca = childrenList(a);
      const cb = childrenList(b);
      return ca.length === cb.length && ca.every((x, i) => sameExpr(x, cb[i])) && JSON.stringify(flags(a)) === JSON.stringify(flags(b));
    }
  }
}

function childrenList(e: Expr): Expr[] {
  const out: Expr[] = [];
  walkChildren(e, (c) => out.push(c));
  return out;
}

function flags(e: Expr): unknown {
  switch (e.k) {
    case 'isnull':
    case 'distinct':
    case 'in':
      return e.neg;
    case 'booltest':
      return [e.test, e.neg];
    case 'minmax':
      return e.greatest;
    default:
      return e.k;
  }
}

function aggregateType(name: string, types: SqlType[], star: boolean, location?: number): { type: SqlType; argTypes: SqlType[] } {
  const t = types[0] === 'unknown' ? 'text' : types[0];
  const bad = (): never => {
    throw sqlError('42883', `function ${name}(${types.map((x) => TYPE_DISPLAY[x]).join(', ')}) does not exist`, location);
  };
  switch (name) {
    case 'count':
      if (star) return { type: 'int8', argTypes: [] };
      if (types.length !== 1) bad();
      return { type: 'int8', argTypes: [t] };
    case 'sum':
      if (types.length !== 1) bad();
      if (t === 'int2' || t === 'int4') return { type: 'int8', argTypes: [t] };
      if (t === 'int8' || t === 'numeric') return { type: 'numeric', argTypes: [t] };
      if (t === 'float4' || t === 'float8' || t === 'interval') return { type: t, argTypes: [t] };
      if (t === 'text' && types[0] === 'unknown') return { type: 'float8', argTypes: ['float8'] };
      return bad();
    case 'avg':
      if (types.length !== 1) bad();
      if (INT_TYPES.has(t) || t === 'numeric') return { type: 'numeric', argTypes: [t] };
      if (t === 'float4' || t === 'float8') return { type: 'float8', argTypes: [t] };
      if (t === 'text' && types[0] === 'unknown') return { type: 'float8', argTypes: ['float8'] };
      return bad();
    case 'min':
    case 'max':
      if (types.length !== 1) bad();
      if (t === 'jsonb' || t === 'bool') bad();
      return { type: t, argTypes: [t] };
    case 'bool_and':
    case 'bool_or':
    case 'every':
      if (types.length !== 1 || (t !== 'bool' && types[0] !== 'unknown')) bad();
      return { type: 'bool', argTypes: ['bool'] };
    case 'string_agg':
      if (types.length !== 2) bad();
      if ((t !== 'text' && t !== 'uuid') || (types[1] !== 'text' && types[1] !== 'unknown')) bad();
      return { type: 'text', argTypes: ['text', 'text'] };
    case 'array_agg':
      if (types.length !== 1) bad();
      return { type: 'text', argTypes: [t] };
    case 'json_agg':
    case 'jsonb_agg':
      if (types.length !== 1) bad();
      return { type: 'jsonb', argTypes: [t] };
    default:
      if (types.length !== 1 || NUMERIC_RANK[t] === undefined) bad();
      return { type: t === 'float4' || t === 'float8' ? 'float8' : 'numeric', argTypes: [t] };
  }
}

function windowType(name: string, args: Expr[], location?: number): { type: SqlType; argTypes: SqlType[] } {
  const types: SqlType[] = args.map((a) => (a.type === 'unknown' ? 'text' : a.type));
  const bad = (): never => {
    throw sqlError('42883', `function ${name}(${args.map((x) => TYPE_DISPLAY[x.type]).join(', ')}) does not exist`, location);
  };
  switch (name) {
    case 'row_number':
    case 'rank':
    case 'dense_rank':
      if (args.length !== 0) bad();
      return { type: 'int8', argTypes: [] };
    case 'percent_rank':
    case 'cume_dist':
      if (args.length !== 0) bad();
      return { type: 'float8', argTypes: [] };
    case 'ntile':
      if (args.length !== 1) bad();
      return { type: 'int4', argTypes: ['int4'] };
    case 'lag':
    case 'lead': {
      if (args.length < 1 || args.length > 3) bad();
      let t = types[0];
      if (args.length === 3) {
        t = commonType([args[0].type, args[2].type], name.toUpperCase(), location);
        if (t === 'unknown') t = 'text';
      }
      return { type: t, argTypes: args.length === 1 ? [t] : args.length === 2 ? [t, 'int4'] : [t, 'int4', t] };
    }
    case 'first_value':
    case 'last_value':
      if (args.length !== 1) bad();
      return { type: types[0], argTypes: [types[0]] };
    case 'nth_value':
      if (args.length !== 2) bad();
      return { type: types[0], argTypes: [types[0], 'int4'] };
    default:
      return bad();
  }
}

export { Scope, Interval };
