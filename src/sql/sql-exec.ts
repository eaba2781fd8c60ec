// The SQL executor: one statement's text → its answer. Parses (cached by
// text), binds and plans (binder.ts), fetches every table scan from the shards
// at the statement's snapshot, runs the router operators, and turns the rows
// into JSON cells. DDL maps onto the table catalog; INSERT/UPDATE/DELETE run
// in the caller's transaction (Mantis-Txn) or in an implicit one, so a
// statement is atomic on its own; BEGIN/COMMIT/ROLLBACK drive the existing
// transaction manager.
//
// Security (issue 14, sql-security.ts), when the server runs with auth on
// (`security: { store }`): every statement runs as its request's principal.
// Reads need tables:<t> / docs:<c> / kv: read for every relation named
// (checked as the binder resolves it); writes need sql write, the target's
// tables:<t> write (and read when the statement reads its rows); DDL the
// table's write; policy statements admin write. Row-level security is a
// rewrite in the binder: every scan of a table under RLS gets its policies'
// USING ANDed into its filter (pushed to the shards like WHERE); INSERT,
// UPDATE and ON CONFLICT check new rows against WITH CHECK here (42501).

import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { Cell, ColumnType, Predicate, TableInfo } from '../../shared/tables/table-types.js';
import type { ColumnInput } from '../tables/table-schema.js';
import type { TableService } from '../tables/table-service.js';
import type { TxnManager } from '../txn/txn-manager.js';
import type { Isolation } from '../../shared/txn/txn-wire.js';
import { Binder, type SqlCatalog, type SqlRelation } from './binder.js';
import { andOf, compile, type Compiled, type Env, type Expr } from './ir.js';
import { parseStatement, type PgNode } from './sql-parse.js';
import { CteScanNode, PrefetchedNode, ProjectNode, ResultNode, type ColInfo, type PlanNode, type Row } from './plan.js';
import { cellToValue, ROWID, sqlTypeOf, typmodOf, TableRelation, type StatementContext, type TableScan } from './scan.js';
import { sqlError, sqlstateOf, withPosition } from './sql-errors.js';
import { castValue, jsonToValue, valueToJson } from './sql-cast.js';
import { INT_RANGE, Interval, Jsonb, NUMERIC_RANK, TYPE_DISPLAY, typeFromName, type SqlType, type Value } from './sql-types.js';
import { explainText, explainJson } from './explain.js';
import { bodyOf, kindOf, list, loc, str, type N } from './pg-ast.js';
import { CollectionRelation, KvRelation } from './model-relations.js';
import type { DocService } from '../docs/doc-service.js';
import { docAccess } from '../docs/doc-rls.js';
import type { KvService } from '../kv/kv-service.js';
import type { Principal } from '../security/principal.js';
import { containsNode, forbidden, policyTexts, rlsViolation, statementSecurity, type RowCommand, type SqlSecurityOptions, type StatementSecurity } from './sql-security.js';
import type { PolicyCommand } from '../security/policy-types.js';

export type SqlRequest = {
  readonly query: string;
  readonly params: readonly unknown[];
  readonly txn: string | null;
  readonly deadlineMs: number;
  readonly signal?: AbortSignal;
  /** Who runs the statement (undefined: the system principal, when auth is off). */
  readonly principal?: Principal;
};

/** A request with its statement's security (permissions and row-level security). */
type Req = SqlRequest & { readonly sec: StatementSecurity };

export type SqlAnswer = {
  readonly command: string;
  readonly columns: { name: string; type: string }[];
  readonly types: SqlType[];
  /** Values (convert with valueToJson / the route's formats). */
  readonly rows: Value[][];
  readonly rowCount: number;
  /** A transaction BEGIN opened (the route answers it as the Mantis-Txn header and meta.txn). */
  readonly txn?: string;
  readonly notice?: string;
  readonly timing: { parseMs: number; planMs: number; execMs: number };
};

const PARSE_CACHE_MAX = 1000;
/** Statements that change data or schema: they need `sql` write besides their tables' permissions. */
const WRITING = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'CreateStmt', 'DropStmt', 'IndexStmt', 'AlterTableStmt', 'TruncateStmt', 'CreatePolicyStmt']);
/** Rows a WITH RECURSIVE may produce before the statement is refused. */
const RECURSIVE_ROWS_MAX = 1_000_000;
const ROWID_BATCH = 2 ** 20;
const ESTIMATE_TTL_MS = 10_000;

export type SqlExecutorOptions = {
  readonly tables: TableService;
  readonly txns: TxnManager | null;
  /** Router memory one statement may hold in materialized rows (bytes). */
  readonly memoryBytes: number;
  /** A fresh, never repeating id source for hidden row ids (the timestamp oracle). */
  readonly nextId: () => number;
  /** Collections as tables (_id, doc jsonb); absent: not queryable from SQL. */
  readonly docs?: DocService;
  /** The key-value store as the read-only table kv. */
  readonly kv?: KvService;
  /**
   * Auth on: permissions per statement and row-level security, policies and RLS flags kept in
   * the auth store. Absent (auth off): nothing is checked, no policy applies, and CREATE POLICY /
   * ENABLE ROW LEVEL SECURITY are refused.
   */
  readonly security?: SqlSecurityOptions;
};

/** PostgreSQL's output type names. */
const PG_NAME: Record<SqlType, string> = {
  bool: 'bool',
  int2: 'int2',
  int4: 'int4',
  int8: 'int8',
  numeric: 'numeric',
  float4: 'float4',
  float8: 'float8',
  text: 'text',
  bytea: 'bytea',
  timestamptz: 'timestamptz',
  timestamp: 'timestamp',
  date: 'date',
  interval: 'interval',
  jsonb: 'jsonb',
  uuid: 'uuid',
  unknown: 'text',
};


export class SqlExecutor {
  private readonly parsed = new Map<string, PgNode>();
  /** Table row counts for the planner's estimates (refreshed at most every ESTIMATE_TTL_MS, in the background). */
  private readonly estimates = new Map<string, { rows: number; atMs: number; refreshing: boolean }>();
  private rowIdBase = 0;
  private rowIdNext = ROWID_BATCH;
  constructor(private readonly o: SqlExecutorOptions) {}

  async execute(req: SqlRequest): Promise<SqlAnswer> {
    try {
      return await this.run({ ...req, sec: statementSecurity(this.o.security?.store ?? null, req.principal) });
    } catch (e) {
      if (e instanceof MantisError) {
        if (/Maximum call stack size exceeded/.test(e.message)) throw sqlError('54001', 'stack depth limit exceeded (the statement nests too deeply)');
        throw withPosition(toSqlError(e), req.query);
      }
      if (e instanceof RangeError && /call stack/.test(e.message)) throw sqlError('54001', 'stack depth limit exceeded (the statement nests too deeply)');
      throw e;
    }
  }

  private parse(query: string): PgNode {
    const hit = this.parsed.get(query);
    if (hit !== undefined) {
      this.parsed.delete(query);
      this.parsed.set(query, hit);
      return hit;
    }
    const stmt = parseStatement(query);
    this.parsed.set(query, stmt);
    if (this.parsed.size > PARSE_CACHE_MAX) this.parsed.delete(this.parsed.keys().next().value as string);
    return stmt;
  }

  private async run(req: Req): Promise<SqlAnswer> {
    const t0 = performance.now();
    const stmt = this.parse(req.query);
    const parseMs = performance.now() - t0;
    const kind = kindOf(stmt);
    const body = bodyOf(stmt);
    const timing = { parseMs, planMs: 0, execMs: 0 };
    if (WRITING.has(kind)) req.sec.sqlWrite();
    switch (kind) {
      case 'SelectStmt': {
        const r = await this.select(stmt, req, timing);
        return { command: 'SELECT', columns: r.columns, types: r.types, rows: r.rows, rowCount: r.rows.length, timing };
      }
      case 'ExplainStmt':
        return this.explain(body, req, timing);
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
        return this.inTxn(req, (txn) => this.dml(kind, body, req, txn, timing), timing);
      case 'CreateStmt':
      case 'DropStmt':
      case 'IndexStmt':
      case 'AlterTableStmt':
      case 'TruncateStmt':
        if (req.txn !== null) throw sqlError('0A000', `${commandOfDdl(kind, body)} cannot run inside a transaction here: send it without the Mantis-Txn header`);
        return this.ddl(kind, body, req, timing);
      case 'CreatePolicyStmt':
        if (req.txn !== null) throw sqlError('0A000', 'CREATE POLICY cannot run inside a transaction here: send it without the Mantis-Txn header');
        return this.createPolicy(body, req, timing);
      case 'TransactionStmt':
        return this.transaction(body, req, timing);
      case 'VariableSetStmt':
        // SET search_path/timezone… from drivers: accepted and ignored (one schema, UTC).
        return empty('SET', timing);
      default:
        throw sqlError('0A000', `${kind.replace(/Stmt$/, '')} statements are not supported`);
    }
  }

  // ---- SELECT ----

  private newStatement(req: Req, txn: string | null): { ctx: StatementContext; scans: TableScan[]; catalog: SqlCatalog; paramTypes: (SqlType | undefined)[] } {
    const ctx: StatementContext = { deadlineMs: req.deadlineMs, txn, shardsTouched: 0 };
    const scans: TableScan[] = [];
    const catalog: SqlCatalog = {
      relation: (name) => this.relation(name, ctx, scans, req.sec),
      scanMark: () => scans.length,
      dropScansAfter: (mark) => void scans.splice(mark),
    };
    return { ctx, scans, catalog, paramTypes: [] };
  }

  /** A relation the statement reads (its read permission checked, unless `sec` is null: a DML target, checked by the caller). */
  private relation(name: string, ctx: StatementContext, scans: TableScan[], sec: StatementSecurity | null): SqlRelation | null {
    const info = this.o.tables.catalog.get(name);
    if (info !== undefined) {
      sec?.table(name, 'read');
      return new TableRelation(info, this.o.tables, ctx, scans, this.estimateRows(info.name));
    }
    if (this.o.docs !== undefined && this.o.docs.catalog.get(name) !== undefined) {
      sec?.collection(name);
      const store = this.o.security?.store;
      return new CollectionRelation(name, this.o.docs, ctx, scans, store === undefined || sec === null ? undefined : docAccess({ store }, sec.principal));
    }
    if (name === 'kv' && this.o.kv !== undefined) {
      sec?.kv();
      return new KvRelation(this.o.kv, ctx, scans, sec?.kvVisible() ?? undefined);
    }
    return null;
  }

  /** The statement's binder: its catalog, parameter types and security. */
  private binder(st: ReturnType<SqlExecutor['newStatement']>, req: Req): Binder {
    return new Binder({ catalog: st.catalog, paramTypes: st.paramTypes, recursiveRowsMax: RECURSIVE_ROWS_MAX, security: req.sec });
  }

  /** Any of the caller's applicable policies' USING for `command` over a whole row of the table; null when not under RLS. */
  private policyUsing(binder: Binder, req: Req, info: TableInfo, cols: { name: string; type: SqlType; hidden: boolean }[], command: RowCommand): Compiled | null {
    const texts = req.sec.usingTexts(info.name, command);
    return texts === null ? null : compile(binder.policyRow(info.name, texts, cols));
  }

  /** What a new row must pass (WITH CHECK, else USING, of any applicable policy); null when not under RLS. */
  private policyCheck(binder: Binder, req: Req, info: TableInfo, cols: { name: string; type: SqlType; hidden: boolean }[], command: 'insert' | 'update'): Compiled | null {
    const texts = req.sec.checkTexts(info.name, command);
    return texts === null ? null : compile(binder.policyRow(info.name, texts, cols));
  }

  /** The table's row count as last measured (1000 until then); a stale one is refreshed in the background. */
  private estimateRows(name: string): number {
    const now = Date.now();
    let e = this.estimates.get(name);
    if (e === undefined) {
      e = { rows: 1000, atMs: 0, refreshing: false };
      this.estimates.set(name, e);
    }
    if (!e.refreshing && now - e.atMs > ESTIMATE_TTL_MS) {
      const entry = e;
      entry.refreshing = true;
      this.o.tables
        .shardStats(name, now + 5000)
        .then((parts) => {
          entry.rows = Math.max(1, parts.reduce((sum, p) => sum + p.rows, 0));
          entry.atMs = Date.now();
        })
        .catch(() => undefined)
        .finally(() => {
          entry.refreshing = false;
        });
    }
    return e.rows;
  }

  private env(req: Req, params: Value[]): Env {
    const deadline = req.deadlineMs;
    const signal = req.signal;
    let charged = 0;
    const limit = this.o.memoryBytes;
    return {
      outer: [],
      params,
      ctx: { nowUs: Date.now() * 1000 },
      subCache: new Map(),
      check: () => {
        if (deadline > 0 && Date.now() > deadline) throw sqlError('57014', 'canceling statement due to statement timeout (Mantis-Deadline-Ms)');
        if (signal?.aborted === true) throw sqlError('57014', 'canceling statement due to user request');
      },
      charge: (bytes: number) => {
        charged += bytes;
        if (charged > limit) throw sqlError('53200', `the statement needs more than ${Math.round(limit / 1048576)} MiB of router memory (--sql-memory-mb); add filters or LIMIT`);
      },
    };
  }

  private params(req: Req, types: (SqlType | undefined)[]): Value[] {
    if (req.params.length < types.length) {
      throw sqlError('08P01', `bind message supplies ${req.params.length} parameters, but prepared statement requires ${types.length}`, undefined, 'SQL_INVALID_PARAMETER');
    }
    if (req.params.length > types.length) {
      throw sqlError('08P01', `bind message supplies ${req.params.length} parameters, but prepared statement requires ${types.length}`, undefined, 'SQL_INVALID_PARAMETER');
    }
    return req.params.map((p, i) => jsonToValue(p, types[i] ?? 'unknown'));
  }

  /** Fetches every scan of the statement (in parallel), then runs the plan. */
  private async runPlan(plan: PlanNode, scans: TableScan[], env: Env): Promise<Row[]> {
    const fetch = async (s: TableScan): Promise<void> => {
      const t0 = performance.now();
      s.node.rows = await s.node.fetch(env);
      s.node.ms += performance.now() - t0;
      env.charge(s.node.rows.length * s.node.rowBytes());
    };
    // Scans with a runtime filter wait for the join input that feeds it: each one once every scan
    // under that input has its rows (join order may differ from the order scans were made in).
    const later = scans.filter((s) => 'runtime' in s && s.runtime !== null);
    await Promise.all(scans.filter((s) => !later.includes(s)).map(fetch));
    const under = (node: PlanNode, into: Set<PlanNode> = new Set()): Set<PlanNode> => {
      if (into.has(node)) return into;
      into.add(node);
      for (const c of node.children) under(c, into);
      // A CTE's rows come from its own plan (run on first read).
      if (node instanceof CteScanNode && node.cte.plan !== null) under(node.cte.plan, into);
      return into;
    };
    const waiting = [...later];
    while (waiting.length > 0) {
      const ready = waiting.findIndex((s) => {
        const source = under((s as TableScan & { runtime: { source: PlanNode } }).runtime.source);
        return !waiting.some((w) => w !== s && source.has(w.node));
      });
      if (ready < 0) throw new Error('assertion failed: runtime filters depend on each other in a cycle');
      const [s] = waiting.splice(ready, 1);
      const filter = s.runtimePredicate(env);
      s.runtimeWhere = filter;
      await fetch(s);
      s.node.shardInfo.push(filter !== null && 'value' in filter && Array.isArray(filter.value) ? `Runtime Filter: ${filter.value.length} keys` : 'Runtime Filter: skipped (too many keys)');
    }
    return plan.run(env);
  }

  private async select(stmt: PgNode, req: Req, timing: SqlAnswer['timing'], txn: string | null = req.txn): Promise<{ columns: SqlAnswer['columns']; types: SqlType[]; rows: Value[][] }> {
    const t0 = performance.now();
    const st = this.newStatement(req, txn);
    const binder = this.binder(st, req);
    const q = binder.bindQuery(stmt as N);
    const params = this.params(req, st.paramTypes);
    const t1 = performance.now();
    timing.planMs = t1 - t0;
    const rows = await this.runPlan(q.plan, st.scans, this.env(req, params));
    timing.execMs = performance.now() - t1;
    return { columns: q.cols.map((c) => ({ name: c.name, type: PG_NAME[c.type] })), types: q.cols.map((c) => c.type), rows };
  }

  private async explain(b: N, req: Req, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const opts = list(b.options).map((o) => bodyOf(o));
    let analyze = false;
    let format = 'text';
    for (const o of opts) {
      const name = o.defname as string;
      const arg = o.arg === undefined ? null : kindOf(o.arg) === 'String' ? str(o.arg) : String((bodyOf(o.arg) as N).sval ?? (bodyOf(o.arg) as N).boolval ?? '');
      if (name === 'analyze') analyze = arg === null || arg === 'true' || arg === 'on' || arg === '1';
      else if (name === 'format') format = (arg ?? 'text').toLowerCase();
      else if (name === 'verbose' || name === 'costs' || name === 'buffers' || name === 'timing' || name === 'summary' || name === 'settings' || name === 'wal') continue;
      else throw sqlError('42601', `unrecognized EXPLAIN option "${name}"`);
    }
    if (format !== 'text' && format !== 'json') throw sqlError('0A000', `EXPLAIN FORMAT ${format.toUpperCase()} is not supported (TEXT, JSON)`);
    const query = b.query as N;
    if (kindOf(query) !== 'SelectStmt') throw sqlError('0A000', 'EXPLAIN of INSERT, UPDATE or DELETE is not supported yet: EXPLAIN their SELECT');
    const t0 = performance.now();
    const st = this.newStatement(req, req.txn);
    const binder = this.binder(st, req);
    const q = binder.bindQuery(query);
    // EXPLAIN ANALYZE's per-shard counters (rows scanned, index entries) count every row, visible
    // or not: under row-level security they would answer "does another tenant have a row matching
    // this guess?". Plain EXPLAIN shows the plan and table-level estimates, as PostgreSQL does.
    if (analyze) {
      for (const s of st.scans) {
        const table = (s as { info?: { name?: string } }).info?.name;
        if (table !== undefined && req.sec.rls(table)) throw forbidden(`permission denied: EXPLAIN ANALYZE of table ${table}, which has row-level security, needs a caller that bypasses it (its shard counters include every row); plain EXPLAIN is allowed`);
      }
    }
    const planMs = performance.now() - t0;
    let execMs = 0;
    const params = this.params(req, st.paramTypes);
    const env = this.env(req, params);
    for (const s of st.scans) if ('explainAccess' in s) s.explainAccess(env);
    if (analyze) {
      const t1 = performance.now();
      await this.runPlan(q.plan, st.scans, env);
      execMs = performance.now() - t1;
    }
    timing.planMs = planMs;
    timing.execMs = execMs;
    const text = format === 'json' ? explainJson(q.plan, analyze, planMs, execMs) : explainText(q.plan, analyze, planMs, execMs);
    const rows: Value[][] = format === 'json' ? [[text]] : text.split('\n').map((l: string) => [l]);
    return { command: 'EXPLAIN', columns: [{ name: 'QUERY PLAN', type: 'text' }], types: ['text'], rows, rowCount: rows.length, timing };
  }

  // ---- transactions ----

  private async transaction(b: N, req: Req, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const kind = b.kind as string;
    const txns = this.o.txns;
    if (txns === null) throw sqlError('0A000', 'transactions are not available on this server');
    switch (kind) {
      case 'TRANS_STMT_BEGIN':
      case 'TRANS_STMT_START': {
        if (req.txn !== null) return { ...empty('BEGIN', timing), notice: 'WARNING 25001: there is already a transaction in progress', txn: req.txn };
        let isolation: Isolation = 'snapshot';
        for (const o of list(b.options).map(bodyOf)) {
          if (o.defname === 'transaction_isolation') {
            const level = String(((bodyOf(o.arg) as N).sval as N | undefined)?.sval ?? '').toLowerCase();
            isolation = level === 'serializable' ? 'serializable' : 'snapshot';
          } else if (o.defname === 'transaction_read_only' || o.defname === 'transaction_deferrable') {
            continue;
          }
        }
        const info = txns.begin(isolation, LIMITS.txn_timeout_ms_default);
        return { ...empty('BEGIN', timing), txn: info.id };
      }
      case 'TRANS_STMT_COMMIT':
        if (req.txn === null) return { ...empty('COMMIT', timing), notice: 'WARNING 25P01: there is no transaction in progress' };
        await txns.commit(req.txn);
        return empty('COMMIT', timing);
      case 'TRANS_STMT_ROLLBACK':
        if (req.txn === null) return { ...empty('ROLLBACK', timing), notice: 'WARNING 25P01: there is no transaction in progress' };
        await txns.rollback(req.txn);
        return empty('ROLLBACK', timing);
      default:
        throw sqlError('0A000', `${kind.replace('TRANS_STMT_', '')} is not supported (BEGIN, COMMIT, ROLLBACK)`);
    }
  }

  /** Runs a write statement in the caller's transaction, or an implicit one committed at its end. */
  private async inTxn(req: Req, work: (txn: string | null) => Promise<SqlAnswer>, _timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    if (req.txn !== null || this.o.txns === null) return work(req.txn);
    const txns = this.o.txns;
    const info = txns.begin('snapshot', Math.max(1000, req.deadlineMs > 0 ? req.deadlineMs - Date.now() : LIMITS.txn_timeout_ms_default));
    let answer: SqlAnswer;
    try {
      answer = await work(info.id);
    } catch (e) {
      await txns.rollback(info.id).catch(() => undefined);
      throw e;
    }
    await txns.commit(info.id);
    return answer;
  }

  // ---- DML ----

  private async dml(kind: string, b: N, req: Req, txn: string | null, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const rel = b.relation as N;
    const name = rel.relname as string;
    const info = this.o.tables.catalog.get(name);
    if (info === undefined) {
      if ((name === 'kv' && this.o.kv !== undefined) || this.o.docs?.catalog.get(name) !== undefined) {
        throw sqlError('0A000', `"${name}" is ${name === 'kv' ? 'the key-value store' : 'a document collection'}, read-only in SQL: write it through its own API`, loc(rel));
      }
      throw sqlError('42P01', `relation "${name}" does not exist`, loc(rel));
    }
    // The target needs write; read too when the statement reads its rows (WHERE, RETURNING, SET
    // from columns, ON CONFLICT DO UPDATE), as PostgreSQL's SELECT privilege.
    const returning = this.returning(b).length > 0;
    const reads =
      kind === 'InsertStmt'
        ? returning || (b.onConflictClause as N | undefined)?.action === 'ONCONFLICT_UPDATE'
        : returning || b.whereClause !== undefined || (kind === 'UpdateStmt' && containsNode(b.targetList, 'ColumnRef'));
    req.sec.table(name, 'write');
    if (reads) req.sec.table(name, 'read');
    if (kind === 'InsertStmt') return this.insert(b, info, req, txn, timing);
    // Under RLS the target's rows are those the command's policies show (and the SELECT policies', when the statement reads them).
    const commands: RowCommand[] = [kind === 'UpdateStmt' ? 'update' : 'delete', ...(reads ? (['select'] as const) : [])];
    if (kind === 'UpdateStmt') return this.update(b, info, req, txn, timing, commands);
    return this.delete(b, info, req, txn, timing, commands);
  }

  /** VALUES rows that read subqueries or columns go through the query path (they need scans and scopes). */
  private hasSubLink(node: unknown): boolean {
    const text = JSON.stringify(node);
    return text.includes('"SubLink"') || text.includes('"ColumnRef"');
  }

  private returning(b: N): N[] {
    const r = (b.returningClause as N | undefined)?.exprs ?? b.returningList;
    return list(r);
  }

  private async insert(b: N, info: TableInfo, req: Req, txn: string | null, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const t0 = performance.now();
    const st = this.newStatement(req, txn);
    const binder = this.binder(st, req);
    const tableCols = info.columns.map((c) => ({ name: c.name, type: sqlTypeOf(c), hidden: c.sqlType === 'rowid' }));
    const visible = tableCols.map((c, i) => ({ ...c, i })).filter((c) => !c.hidden);
    const targetNames = list(b.cols).map((c) => (c.ResTarget as N).name as string);
    const targets = targetNames.length === 0 ? visible.map((c) => c.i) : targetNames.map((n, k) => {
      const at = tableCols.findIndex((c) => c.name === n && !c.hidden);
      if (at < 0) throw sqlError('42703', `column "${n}" of relation "${info.name}" does not exist`, loc(list(b.cols)[k].ResTarget as N));
      return at;
    });
    if (new Set(targets).size !== targets.length) throw sqlError('42701', `column "${tableCols[targets.find((t, i) => targets.indexOf(t) !== i) as number].name}" specified more than once`);
    let sel = b.selectStmt as N | undefined;
    if (b.withClause !== undefined) {
      if (sel === undefined) throw sqlError('42601', 'WITH … INSERT … DEFAULT VALUES has no query to use the WITH clause');
      const inner = sel.SelectStmt as N;
      if (inner.withClause !== undefined) throw sqlError('0A000', 'WITH on both INSERT and its SELECT is not supported');
      sel = { SelectStmt: { ...inner, withClause: b.withClause } };
    }
    // Source rows: VALUES (with DEFAULT) or a query.
    let source: { plan: PlanNode; types: SqlType[] } | null = null;
    let valuesRows: (Expr | 'default')[][] | null = null;
    const emptyScope = binder.scopeOver('', [], null);
    if (sel === undefined) {
      valuesRows = [targets.map(() => 'default' as const)];
    } else {
      const s = sel.SelectStmt as N;
      if (s.valuesLists !== undefined && s.op === 'SETOP_NONE' && s.sortClause === undefined && s.limitCount === undefined && s.withClause === undefined && !this.hasSubLink(s.valuesLists)) {
        valuesRows = list(s.valuesLists).map((l) => list((l.List as N).items).map((item) => (kindOf(item) === 'SetToDefault' ? ('default' as const) : binder.expression(item, emptyScope))));
      } else {
        const q = binder.bindQuery(sel);
        source = { plan: q.plan, types: q.cols.map((c) => c.type) };
      }
    }
    const width = valuesRows !== null ? valuesRows[0]?.length ?? 0 : (source as { types: SqlType[] }).types.length;
    if (valuesRows !== null && valuesRows.some((r) => r.length !== width)) throw sqlError('42601', 'VALUES lists must all be the same length');
    if (width > targets.length) throw sqlError('42601', 'INSERT has more expressions than target columns');
    if (width < targets.length && targetNames.length > 0) throw sqlError('42601', 'INSERT has more target columns than expressions');
    // Assignment casts, checked now (so a bad literal fails at bind time).
    const assign = (e: Expr, col: number): Expr => assignCast(binder, e, tableCols[col].type, tableCols[col].name);
    const compiledRows = valuesRows?.map((r) => r.map((e, j) => (e === 'default' ? null : compile(assign(e, targets[j])))));
    const sourceCasts = source?.types.map((t, j) => compile(assign({ k: 'col', idx: j, type: t, name: `column${j + 1}` }, targets[j])));
    // ON CONFLICT
    const oc = b.onConflictClause as N | undefined;
    let onConflict: 'error' | 'ignore' | 'update' = 'error';
    let setExprs: { col: number; f: ReturnType<typeof compile> }[] = [];
    let setWhere: ReturnType<typeof compile> | null = null;
    if (oc !== undefined) {
      const infer = oc.infer as N | undefined;
      const keys = list(infer?.indexElems).map((e) => (e.IndexElem as N).name as string);
      if (infer?.conname !== undefined) throw sqlError('0A000', 'ON CONFLICT ON CONSTRAINT is not supported: name the primary-key columns');
      const pkNames = info.primaryKey;
      const isPk = keys.length === 0 || (keys.length === pkNames.length && keys.every((k) => pkNames.includes(k)));
      if (!isPk) {
        const unique = info.indexes.some((ix) => ix.unique && ix.columns.length === keys.length && keys.every((k) => ix.columns.includes(k)));
        if (unique) throw sqlError('0A000', 'ON CONFLICT on a unique index other than the primary key is not supported yet');
        throw sqlError('42P10', 'there is no unique or exclusion constraint matching the ON CONFLICT specification', loc(infer ?? oc));
      }
      if (oc.action === 'ONCONFLICT_NOTHING') onConflict = 'ignore';
      else {
        if (keys.length === 0) throw sqlError('42601', 'ON CONFLICT DO UPDATE requires inference specification or constraint name', loc(oc));
        onConflict = 'update';
        // SET … over [existing row…, excluded row…].
        const scope = binder.scopeOver(((b.relation as N).alias as N | undefined)?.aliasname as string | undefined ?? info.name, tableCols, null, 0);
        binder.addRelation(scope, 'excluded', tableCols, null, tableCols.length);
        setExprs = list(oc.targetList).map((t) => {
          const rt = t.ResTarget as N;
          const col = tableCols.findIndex((c) => c.name === rt.name && !c.hidden);
          if (col < 0) throw sqlError('42703', `column "${String(rt.name)}" of relation "${info.name}" does not exist`, loc(rt));
          if (info.primaryKey.includes(tableCols[col].name)) throw sqlError('0A000', 'ON CONFLICT DO UPDATE cannot change a primary-key column here');
          return { col, f: compile(assign(binder.expression(rt.val, scope), col)) };
        });
        if (oc.whereClause !== undefined) setWhere = compile(binder.coerceTo(binder.expression(oc.whereClause, scope), 'bool'));
      }
    }
    const returning = this.returning(b);
    const insAlias = ((b.relation as N).alias as N | undefined)?.aliasname as string | undefined;
    const retScope = binder.scopeOver(insAlias ?? info.name, tableCols, null);
    const ret = returning.map((r) => this.returnItem(binder, r, retScope, tableCols));
    // Row-level security: new rows pass the INSERT policies' WITH CHECK; ON CONFLICT DO UPDATE's
    // existing rows the UPDATE policies' USING and merged rows their WITH CHECK; RETURNING shows
    // the rows the SELECT policies let the caller see.
    const insertCheck = this.policyCheck(binder, req, info, tableCols, 'insert');
    const updateUsing = onConflict === 'update' ? this.policyUsing(binder, req, info, tableCols, 'update') : null;
    const updateCheck = onConflict === 'update' ? this.policyCheck(binder, req, info, tableCols, 'update') : null;
    const shown = ret.length > 0 ? this.policyUsing(binder, req, info, tableCols, 'select') : null;
    const params = this.params(req, st.paramTypes);
    timing.planMs = performance.now() - t0;
    const t1 = performance.now();
    const env = this.env(req, params);
    // Build the full rows.
    let srcRows: Value[][];
    // Scans of subqueries in policies, when no source query fetches them.
    if (source === null && st.scans.length > 0) await this.runPlan(new ResultNode(), st.scans, env);
    if (source !== null) {
      const rows = await this.runPlan(source.plan, st.scans, env);
      const casts = sourceCasts as ReturnType<typeof compile>[];
      srcRows = rows.map((r) => casts.map((f) => f(r, env)));
    } else {
      srcRows = (compiledRows as (ReturnType<typeof compile> | null)[][]).map((r) => r.map((f) => (f === null ? undefined : f([], env))) as Value[]);
    }
    if (srcRows.length > LIMITS.txn_writes_max) {
      throw sqlError('54000', `INSERT of ${srcRows.length} rows is past the ${LIMITS.txn_writes_max} rows one statement writes atomically; split it, or load through POST /api/v1/tables/${info.name}/rows`);
    }
    const hasRowId = tableCols.some((c) => c.hidden);
    const full: Value[][] = srcRows.map((src) => {
      const row: Value[] = info.columns.map((c, i) => (tableCols[i].hidden ? null : cellToValue(c.default, tableCols[i].type)));
      targets.forEach((col, j) => {
        const v = src[j];
        if (v !== undefined) row[col] = v;
      });
      if (hasRowId) row[tableCols.findIndex((c) => c.hidden)] = this.rowId();
      return row;
    });
    for (const row of full) {
      checkRow(info, tableCols, row);
      if (insertCheck !== null && insertCheck(row, env) !== true) throw rlsViolation(info.name);
    }
    let affected = full.length;
    let written = full;
    if (onConflict === 'update') {
      const pkAt = info.primaryKey.map((k) => info.columns.findIndex((c) => c.name === k));
      const existing = await this.o.tables.get(info.name, full.map((r) => pkAt.map((i) => toCell(r[i], tableCols[i].type))), req.deadlineMs, txn);
      const seen = new Set<string>();
      written = [];
      affected = 0;
      for (let i = 0; i < full.length; i++) {
        const key = JSON.stringify(pkAt.map((k) => String(full[i][k])));
        if (seen.has(key)) throw sqlError('21000', 'ON CONFLICT DO UPDATE command cannot affect row a second time');
        seen.add(key);
        const old = existing[i];
        if (old === null) {
          written.push(full[i]);
          affected++;
          continue;
        }
        const oldRow = old.map((c, j) => cellToValue(c, tableCols[j].type));
        // PostgreSQL: an existing row the caller may not update is an error, not a silent skip.
        if (updateUsing !== null && updateUsing(oldRow, env) !== true) throw rlsViolation(info.name, true);
        const both = [...oldRow, ...full[i]];
        if (setWhere !== null && setWhere(both, env) !== true) continue;
        const next = [...oldRow];
        for (const s of setExprs) next[s.col] = s.f(both, env);
        checkRow(info, tableCols, next);
        if (updateCheck !== null && updateCheck(next, env) !== true) throw rlsViolation(info.name);
        written.push(next);
        affected++;
      }
    }
    if (onConflict === 'ignore' && written.length > 0) {
      written = await this.withoutConflicts(info, tableCols, written, req.deadlineMs, txn);
      if (written.length === 0) affected = 0;
    }
    if (written.length > 0) {
      const r = await this.o.tables.insertRows(info, written.map((row) => row.map((v, i) => toCell(v, tableCols[i].type))), { onConflict: onConflict === 'ignore' ? 'ignore' : onConflict === 'update' ? 'replace' : 'error', ttlMs: 0 }, req.deadlineMs, txn);
      if (onConflict === 'ignore') {
        affected = r.inserted;
        if (ret.length > 0) written = await this.insertedOf(info, written, tableCols, txn, req.deadlineMs, r.ignored);
      }
    }
    timing.execMs = performance.now() - t1;
    return this.dmlAnswer('INSERT', affected, ret, shown === null ? written : written.filter((r) => shown(r, env) === true), env, timing);
  }

  /**
   * ON CONFLICT DO NOTHING: the rows left once those that repeat an earlier row's key or unique
   * value (in this statement) or hit a stored row's unique value are dropped. Primary-key clashes
   * with stored rows are left to the shards ('ignore').
   */
  private async withoutConflicts(info: TableInfo, cols: { type: SqlType }[], rows: Value[][], deadlineMs: number, txn: string | null): Promise<Value[][]> {
    const at = (names: readonly string[]): number[] => names.map((n) => info.columns.findIndex((c) => c.name === n));
    const keyOf = (r: Value[], idx: number[]): string | null => (idx.some((i) => r[i] === null) ? null : JSON.stringify(idx.map((i) => String(r[i]))));
    const uniques = [at(info.primaryKey), ...info.indexes.filter((ix) => ix.unique).map((ix) => at(ix.columns))];
    const seen = uniques.map(() => new Set<string>());
    let kept = rows.filter((r) => {
      const keys = uniques.map((idx) => keyOf(r, idx));
      if (keys.some((k, u) => k !== null && seen[u].has(k))) return false;
      keys.forEach((k, u) => k !== null && seen[u].add(k));
      return true;
    });
    for (const ix of info.indexes.filter((i) => i.unique)) {
      const idx = at(ix.columns);
      const stored = new Set<string>();
      const probe = kept.filter((r) => keyOf(r, idx) !== null);
      for (let i = 0; i < probe.length; i += 1000) {
        const chunk = probe.slice(i, i + 1000);
        const where: Predicate =
          idx.length === 1
            ? { col: idx[0], op: 'in', value: chunk.map((r) => toCell(r[idx[0]], cols[idx[0]].type)) }
            : { or: chunk.map((r) => ({ and: idx.map((c) => ({ col: c, op: '=' as const, value: toCell(r[c], cols[c].type) })) })) };
        const found = await this.o.tables.query(info.name, { columns: idx, where, groupBy: [], aggregates: [], orderBy: [], limit: 0, offset: 0, after: null, hint: null }, deadlineMs, txn);
        for (const f of found.rows) stored.add(JSON.stringify(f.map((c, j) => String(cellToValue(c, cols[idx[j]].type)))));
      }
      if (stored.size > 0) kept = kept.filter((r) => !stored.has(keyOf(r, idx) as string));
    }
    return kept;
  }

  /** RETURNING after ON CONFLICT DO NOTHING: only the rows that went in (read back by key). */
  private async insertedOf(info: TableInfo, rows: Value[][], cols: { type: SqlType }[], txn: string | null, deadlineMs: number, ignored: number): Promise<Value[][]> {
    if (ignored === 0) return rows;
    const pkAt = info.primaryKey.map((k) => info.columns.findIndex((c) => c.name === k));
    const now = await this.o.tables.get(info.name, rows.map((r) => pkAt.map((i) => toCell(r[i], cols[i].type))), deadlineMs, txn);
    return rows.filter((r, i) => {
      const got = now[i];
      return got !== null && got.every((c, j) => String(cellToValue(c, cols[j].type)) === String(r[j]));
    });
  }

  private returnItem(binder: Binder, r: N, scope: ReturnType<Binder['scopeOver']>, tableCols: { name: string; type: SqlType; hidden: boolean }[]): { name: string; exprs: Expr[]; names: string[] } {
    const rt = r.ResTarget as N;
    const val = rt.val as N;
    if (kindOf(val) === 'ColumnRef' && list(bodyOf(val).fields).some((f) => kindOf(f) === 'A_Star')) {
      // * is every relation's columns (the target's, then FROM/USING items'); x.* one relation's.
      const star = binder.star(val, scope);
      void tableCols;
      return { name: '*', exprs: star.map((e) => e.expr), names: star.map((e) => e.name) };
    }
    let e = binder.expression(val, scope);
    if (e.type === 'unknown') e = binder.coerceTo(e, 'text');
    const fields = kindOf(val) === 'ColumnRef' ? list(bodyOf(val).fields).map(str) : [];
    void fields;
    const name = (rt.name as string | undefined) ?? binder.outputName(val);
    return { name, exprs: [e], names: [name] };
  }

  private dmlAnswer(command: string, affected: number, ret: { exprs: Expr[]; names: string[] }[], rows: Value[][], env: Env, timing: SqlAnswer['timing']): SqlAnswer {
    if (ret.length === 0) return { command, columns: [], types: [], rows: [], rowCount: affected, timing };
    const exprs = ret.flatMap((r) => r.exprs);
    const names = ret.flatMap((r) => r.names);
    const fs = exprs.map(compile);
    const out = rows.map((r) => fs.map((f) => f(r, env)));
    return { command, columns: exprs.map((e, i) => ({ name: names[i], type: PG_NAME[e.type] })), types: exprs.map((e) => e.type), rows: out, rowCount: affected, timing };
  }

  private rowId(): number {
    if (this.rowIdNext >= ROWID_BATCH) {
      // Unique across restarts: the oracle never repeats; 2^20 ids per draw.
      this.rowIdBase = this.o.nextId() % 2 ** 32 * ROWID_BATCH;
      this.rowIdNext = 0;
    }
    return this.rowIdBase + this.rowIdNext++;
  }

  private async update(b: N, info: TableInfo, req: Req, txn: string | null, timing: SqlAnswer['timing'], commands: RowCommand[]): Promise<SqlAnswer> {
    const t0 = performance.now();
    const { binder, scope, plan, st, tableCols } = this.targetPlan(b, info, req, txn, 'fromClause', commands);
    const sets = list(b.targetList).map((t) => {
      const rt = t.ResTarget as N;
      const col = tableCols.findIndex((c) => c.name === rt.name && !c.hidden);
      if (col < 0) throw sqlError('42703', `column "${String(rt.name)}" of relation "${info.name}" does not exist`, loc(rt));
      if (rt.indirection !== undefined) throw sqlError('0A000', 'UPDATE of a subfield is not supported', loc(rt));
      const v = rt.val as N;
      const e = kindOf(v) === 'SetToDefault' ? ({ k: 'const', value: cellToValue(info.columns[col].default, tableCols[col].type), type: tableCols[col].type } as Expr) : assignCast(binder, binder.expression(v, scope), tableCols[col].type, tableCols[col].name);
      return { col, f: compile(e) };
    });
    const ret = this.returning(b).map((r) => this.returnItem(binder, r, scope, tableCols));
    // Row-level security: changed rows must pass the UPDATE policies' WITH CHECK; RETURNING shows the visible ones.
    const updateCheck = this.policyCheck(binder, req, info, tableCols, 'update');
    const shown = ret.length > 0 ? this.policyUsing(binder, req, info, tableCols, 'select') : null;
    const { env, rows, t1 } = await this.runTarget(plan, st, req, timing, t0);
    const width = tableCols.length;
    const pkAt = info.primaryKey.map((k) => info.columns.findIndex((c) => c.name === k));
    const next: Value[][] = [];
    const retRows: Value[][] = [];
    // Rows whose primary key changes move: the old key is deleted, the new row must not clash (23505).
    const moved: Value[][] = [];
    const movedTo: Value[][] = [];
    const stayed: Value[][] = [];
    for (const r of oncePerKey(rows, pkAt)) {
      const row = r.slice(0, width);
      for (const s of sets) row[s.col] = s.f(r, env);
      checkRow(info, tableCols, row);
      if (updateCheck !== null && updateCheck(row, env) !== true) throw rlsViolation(info.name);
      if (pkAt.some((k) => String(row[k]) !== String(r[k]) || typeof row[k] !== typeof r[k])) {
        moved.push(r.slice(0, width));
        movedTo.push(row);
      } else stayed.push(row);
      next.push(row);
      if (ret.length > 0 && (shown === null || shown(row, env) === true)) retRows.push([...row, ...r.slice(width)]);
    }
    if (next.length > LIMITS.txn_writes_max) throw sqlError('54000', `UPDATE of ${next.length} rows is past the ${LIMITS.txn_writes_max} rows one statement writes atomically; narrow the WHERE clause`);
    const write = (part: Value[][], onConflict: 'replace' | 'error'): Promise<unknown> =>
      this.o.tables.insertRows(info, part.map((row) => row.map((v, i) => toCell(v, tableCols[i].type))), { onConflict, ttlMs: 0 }, req.deadlineMs, txn);
    if (moved.length > 0) await this.deleteKeys(info, moved, pkAt, tableCols, req.deadlineMs, txn);
    if (stayed.length > 0) await write(stayed, 'replace');
    if (movedTo.length > 0) await write(movedTo, 'error');
    timing.execMs = performance.now() - t1;
    return this.dmlAnswer('UPDATE', next.length, ret, retRows, env, timing);
  }

  private async delete(b: N, info: TableInfo, req: Req, txn: string | null, timing: SqlAnswer['timing'], commands: RowCommand[]): Promise<SqlAnswer> {
    const t0 = performance.now();
    const { binder, scope, plan, st, tableCols } = this.targetPlan(b, info, req, txn, 'usingClause', commands);
    const ret = this.returning(b).map((r) => this.returnItem(binder, r, scope, tableCols));
    const { env, rows, t1 } = await this.runTarget(plan, st, req, timing, t0);
    const width = tableCols.length;
    const pkAt = info.primaryKey.map((k) => info.columns.findIndex((c) => c.name === k));
    const retRows = oncePerKey(rows, pkAt);
    const gone = retRows.map((r) => r.slice(0, width));
    if (gone.length > LIMITS.txn_writes_max) throw sqlError('54000', `DELETE of ${gone.length} rows is past the ${LIMITS.txn_writes_max} rows one statement writes atomically; narrow the WHERE clause`);
    if (gone.length > 0) await this.deleteKeys(info, gone, pkAt, tableCols, req.deadlineMs, txn);
    timing.execMs = performance.now() - t1;
    return this.dmlAnswer('DELETE', gone.length, ret, retRows, env, timing);
  }

  /** Runs an UPDATE/DELETE's target plan once its statement is bound: the matched rows, the env, when execution began. */
  private async runTarget(plan: PlanNode, st: ReturnType<SqlExecutor['newStatement']>, req: Req, timing: SqlAnswer['timing'], t0: number): Promise<{ env: Env; rows: Row[]; t1: number }> {
    const params = this.params(req, st.paramTypes);
    timing.planMs = performance.now() - t0;
    const t1 = performance.now();
    const env = this.env(req, params);
    return { env, rows: await this.runPlan(plan, st.scans, env), t1 };
  }

  private async deleteKeys(info: TableInfo, rows: Value[][], pkAt: number[], cols: { type: SqlType }[], deadlineMs: number, txn: string | null): Promise<void> {
    for (let i = 0; i < rows.length; i += 1000) {
      const chunk = rows.slice(i, i + 1000);
      let where: Predicate;
      if (pkAt.length === 1) where = { col: pkAt[0], op: 'in', value: chunk.map((r) => toCell(r[pkAt[0]], cols[pkAt[0]].type)) };
      else where = { or: chunk.map((r) => ({ and: pkAt.map((k) => ({ col: k, op: '=' as const, value: toCell(r[k], cols[k].type) })) })) };
      await this.o.tables.delete(info.name, where, deadlineMs, txn);
    }
  }

  /** UPDATE/DELETE: the target table joined with FROM/USING items, filtered by WHERE. Rows: [table row…, others…]. */
  private targetPlan(b: N, info: TableInfo, req: Req, txn: string | null, fromKey: 'fromClause' | 'usingClause', commands: RowCommand[]): { binder: Binder; scope: ReturnType<Binder['scopeOver']>; plan: PlanNode; st: ReturnType<SqlExecutor['newStatement']>; tableCols: { name: string; type: SqlType; hidden: boolean }[] } {
    const st = this.newStatement(req, txn);
    const binder = this.binder(st, req);
    const rel = b.relation as N;
    const alias = ((rel.alias as N | undefined)?.aliasname as string | undefined) ?? info.name;
    const relation = this.relation(info.name, st.ctx, st.scans, null) as SqlRelation;
    const scan = relation.makeScan(alias);
    for (let i = 0; i < info.columns.length; i++) scan.need(i);
    const tableCols = relation.cols.map((c) => ({ ...c }));
    const scope = binder.scopeOver(alias, tableCols, scan, 0, binder.withCtes(b.withClause));
    const from = binder.fromItems(list(b[fromKey]), scope, tableCols.length);
    let plan: PlanNode = scan.node;
    // Row-level security: only the rows the caller's policies show are matched (pushed to the shards where possible).
    const secured = binder.rowSecurity(info.name, relation.cols, scan, commands);
    if (secured.length > 0) plan = new FilterLike(plan, compile(andOf(secured) as Expr));
    let where: Expr | null = null;
    if (b.whereClause !== undefined) where = binder.coerceTo(binder.expression(b.whereClause, scope), 'bool', undefined);
    const conj = where === null ? [] : splitAnd(where);
    const mine = conj.filter((c) => onlyBelow(c, tableCols.length) && !hasSub(c));
    const rest = conj.filter((c) => !mine.includes(c));
    const residual = mine.filter((c) => !scan.push(c));
    if (residual.length > 0) {
      const f = residual.length === 1 ? residual[0] : ({ k: 'and', args: residual, type: 'bool' } as Expr);
      plan = new FilterLike(plan, compile(f));
    }
    if (from.node !== null) plan = joinAll(plan, from.node);
    if (rest.length > 0) {
      const f = rest.length === 1 ? rest[0] : ({ k: 'and', args: rest, type: 'bool' } as Expr);
      plan = new FilterLike(plan, compile(f));
    }
    return { binder, scope, plan, st, tableCols };
  }

  // ---- DDL ----

  private async ddl(kind: string, b: N, req: Req, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const t = this.o.tables;
    switch (kind) {
      case 'CreateStmt':
        return this.createTable(b, req, timing);
      case 'DropStmt': {
        const type = b.removeType as string;
        const ifExists = b.missing_ok === true;
        if (type === 'OBJECT_POLICY') return this.dropPolicy(b, req, timing);
        const names = list(b.objects).map((o) => list((o.List as N | undefined)?.items ?? [o]).map(str).pop() as string);
        if (type === 'OBJECT_TABLE') {
          for (const name of names) {
            if (t.catalog.get(name) === undefined) {
              if (ifExists) continue;
              throw sqlError('42P01', `table "${name}" does not exist`);
            }
            req.sec.table(name, 'write');
            rlsSchemaGuard(req, name, 'DROP TABLE');
          }
          for (const name of names) {
            if (t.catalog.get(name) === undefined) continue;
            await t.dropTable(name, { ifExists: true }, req.deadlineMs);
            // Its policies and RLS flag go with it (a new table of the name starts without them).
            await this.o.security?.store.forgetTable(name);
          }
          return empty('DROP TABLE', timing);
        }
        if (type === 'OBJECT_INDEX') {
          for (const name of names) {
            const owner = t.list().find((info) => info.indexes.some((ix) => ix.name === name));
            if (owner === undefined) {
              if (ifExists) continue;
              throw sqlError('42704', `index "${name}" does not exist`);
            }
            req.sec.table(owner.name, 'write');
            rlsSchemaGuard(req, owner.name, 'DROP INDEX');
            if (owner.primaryKey.length > 0 && name === `${owner.name}_pkey`) throw sqlError('2BP01', `cannot drop index ${name} because constraint ${name} on table ${owner.name} requires it`);
            await t.dropIndex(owner.name, name, { ifExists: true }, req.deadlineMs);
          }
          return empty('DROP INDEX', timing);
        }
        throw sqlError('0A000', `DROP ${type.replace('OBJECT_', '')} is not supported`);
      }
      case 'IndexStmt': {
        const rel = b.relation as N;
        const table = rel.relname as string;
        if (t.catalog.get(table) === undefined) throw sqlError('42P01', `relation "${table}" does not exist`, loc(rel));
        req.sec.table(table, 'write');
        rlsSchemaGuard(req, table, 'CREATE INDEX');
        if (b.whereClause !== undefined) throw sqlError('0A000', 'partial indexes are not supported');
        if (b.indexIncludingParams !== undefined) throw sqlError('0A000', 'INCLUDE columns are not supported');
        const cols = list(b.indexParams).map((p) => {
          const e = p.IndexElem as N;
          if (e.name === undefined) throw sqlError('0A000', 'indexes on expressions are not supported');
          return e.name as string;
        });
        const method = ((b.accessMethod as string | undefined) ?? 'btree').toLowerCase();
        if (method !== 'btree' && method !== 'hash' && method !== 'bloom') throw sqlError('42704', `access method "${method}" does not exist`);
        const name = (b.idxname as string | undefined) ?? `${table}_${cols.join('_')}_idx`;
        const other = t.list().find((info) => info.indexes.some((ix) => ix.name === name) || info.name === name);
        if (other !== undefined) {
          if (b.if_not_exists === true) return { ...empty('CREATE INDEX', timing), notice: `NOTICE 42P07: relation "${name}" already exists, skipping` };
          throw sqlError('42P07', `relation "${name}" already exists`);
        }
        await t.createIndex(table, { name, columns: cols, type: method, unique: b.unique === true, ifNotExists: false } as never, req.deadlineMs);
        return empty('CREATE INDEX', timing);
      }
      case 'AlterTableStmt': {
        const rel = b.relation as N;
        const table = rel.relname as string;
        const info = t.catalog.get(table);
        if (info === undefined) {
          if (b.missing_ok === true) return empty('ALTER TABLE', timing);
          throw sqlError('42P01', `relation "${table}" does not exist`, loc(rel));
        }
        req.sec.table(table, 'write');
        for (const c of list(b.cmds)) {
          const cmd = c.AlterTableCmd as N;
          if (cmd.subtype === 'AT_EnableRowSecurity' || cmd.subtype === 'AT_DisableRowSecurity') {
            req.sec.admin('change row-level security');
            await this.securityStore().setRls(table, cmd.subtype === 'AT_EnableRowSecurity');
            this.o.security?.audit?.(cmd.subtype === 'AT_EnableRowSecurity' ? 'auth.rls.enable' : 'auth.rls.disable', req.sec.principal, `table:${table}`, {});
            continue;
          }
          if (cmd.subtype === 'AT_ForceRowSecurity' || cmd.subtype === 'AT_NoForceRowSecurity') {
            throw sqlError('0A000', 'FORCE ROW LEVEL SECURITY is not supported: tables have no owners here; admins bypass row-level security and every other caller is subject to it');
          }
          rlsSchemaGuard(req, table, 'ALTER TABLE');
          if (cmd.subtype !== 'AT_AddColumn') throw sqlError('0A000', `ALTER TABLE ${String(cmd.subtype).replace('AT_', '')} is not supported (ADD COLUMN, ENABLE/DISABLE ROW LEVEL SECURITY)`);
          const def = (cmd.def as N).ColumnDef as N;
          const col = this.columnOf(def, new Set());
          if (col.unique) throw sqlError('0A000', 'ADD COLUMN … UNIQUE is not supported: create a unique index after adding the column');
          if (info.columns.some((x) => x.name === col.input.name)) {
            if (cmd.missing_ok === true) continue;
            throw sqlError('42701', `column "${col.input.name}" of relation "${table}" already exists`);
          }
          if (!col.input.nullable && col.input.default === null) throw sqlError('23502', `column "${col.input.name}" of relation "${table}" contains null values`);
          await t.addColumn(table, col.input, req.deadlineMs);
        }
        return empty('ALTER TABLE', timing);
      }
      case 'TruncateStmt': {
        for (const r of list(b.relations)) {
          const name = (r.RangeVar as N).relname as string;
          if (t.catalog.get(name) === undefined) throw sqlError('42P01', `relation "${name}" does not exist`);
          req.sec.table(name, 'write');
          // TRUNCATE is not subject to policies in PostgreSQL: here it would empty every caller's rows, so it needs BYPASSRLS.
          if (req.sec.rls(name)) throw forbidden(`permission denied for table ${name}: TRUNCATE of a table with row-level security needs a caller that bypasses it (an admin); use DELETE`);
        }
        for (const r of list(b.relations)) {
          const name = (r.RangeVar as N).relname as string;
          await t.delete(name, null, req.deadlineMs);
        }
        return empty('TRUNCATE TABLE', timing);
      }
      default:
        throw new Error(`assertion failed: ${kind}`);
    }
  }

  private columnOf(def: N, pk: Set<string>): { input: ColumnInput; unique: boolean; primary: boolean } {
    const name = def.colname as string;
    const tn = def.typeName as N;
    const names = list(tn.names).map(str);
    const typeName = names[names.length - 1];
    if (tn.arrayBounds !== undefined) throw sqlError('0A000', `column "${name}": arrays are not supported`, loc(tn));
    if (typeName === 'serial' || typeName === 'bigserial' || typeName === 'smallserial') throw sqlError('0A000', `column "${name}": serial types are not supported (give ids, or leave out the PRIMARY KEY for a hidden row id)`, loc(tn));
    const sqlType = typeFromName(typeName);
    if (sqlType === null) throw sqlError('42704', `type "${typeName}" does not exist`, loc(tn), 'SQL_TYPE_MISMATCH');
    if (sqlType === 'interval') throw sqlError('0A000', `column "${name}": interval columns are not supported`, loc(tn));
    const mods = list(tn.typmods).map((m) => (((m.A_Const as N | undefined)?.ival as N | undefined)?.ival as number | undefined) ?? 0);
    let declared: string = sqlType;
    if (sqlType === 'numeric' && mods.length > 0) {
      const [p, sc = 0] = mods;
      if (p < 1 || p > 1000) throw sqlError('22023', `NUMERIC precision ${p} must be between 1 and 1000`, loc(tn));
      declared = `numeric(${p},${sc})`;
    } else if (sqlType === 'text' && mods.length > 0 && typeName !== 'text') {
      if (mods[0] < 1) throw sqlError('22023', `length for type ${typeName} must be at least 1`, loc(tn));
      declared = `varchar(${mods[0]})`;
    }
    const storage: Record<string, ColumnType> = { bool: 'boolean', int2: 'int64', int4: 'int64', int8: 'int64', numeric: 'float64', float4: 'float64', float8: 'float64', text: 'string', uuid: 'string', jsonb: 'string', bytea: 'binary', timestamptz: 'timestamp', timestamp: 'timestamp', date: 'timestamp' };
    let nullable = true;
    let dflt: Cell = null;
    let unique = false;
    let primary = pk.has(name);
    for (const c of list(def.constraints)) {
      const con = c.Constraint as N;
      switch (con.contype) {
        case 'CONSTR_NOTNULL':
          nullable = false;
          break;
        case 'CONSTR_NULL':
          break;
        case 'CONSTR_DEFAULT': {
          const binder = new Binder({ catalog: { relation: () => null }, paramTypes: [], recursiveRowsMax: 0 });
          const e = binder.expression(con.raw_expr, binder.scopeOver('', [], null));
          const cast = assignCast(binder, e, sqlType, name);
          if (cast.k !== 'const') throw sqlError('0A000', `column "${name}": only constant defaults are supported`);
          dflt = toCell(cast.value, sqlType);
          break;
        }
        case 'CONSTR_PRIMARY':
          primary = true;
          break;
        case 'CONSTR_UNIQUE':
          unique = true;
          break;
        default:
          throw sqlError('0A000', `column "${name}": ${String(con.contype).replace('CONSTR_', '')} constraints are not supported`);
      }
    }
    if (primary) nullable = false;
    return { input: { name, type: storage[sqlType], nullable, default: dflt, sqlType: declared }, unique, primary };
  }

  // ---- row-level security ----

  private securityStore(): NonNullable<SqlExecutorOptions['security']>['store'] {
    const s = this.o.security;
    if (s === undefined) throw sqlError('0A000', 'row-level security needs authentication: start the server with auth on');
    return s.store;
  }

  /** CREATE POLICY name ON t [AS PERMISSIVE] [FOR cmd] [TO role, …] [USING (…)] [WITH CHECK (…)]. */
  private async createPolicy(b: N, req: Req, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const store = this.securityStore();
    const rel = b.table as N;
    const table = rel.relname as string;
    const name = b.policy_name as string;
    if (rel.schemaname !== undefined && rel.schemaname !== 'public') throw sqlError('3F000', `schema "${String(rel.schemaname)}" does not exist`, loc(rel), 'SQL_UNDEFINED_TABLE');
    const info = this.o.tables.catalog.get(table);
    if (info === undefined) throw sqlError('42P01', `relation "${table}" does not exist`, loc(rel));
    req.sec.admin('create policies');
    req.sec.table(table, 'write');
    if (b.permissive !== true) throw sqlError('0A000', 'AS RESTRICTIVE policies are not supported: policies are permissive (a row passes when any applicable policy lets it)');
    const command = String(b.cmd_name ?? 'all') as PolicyCommand;
    const roles = list(b.roles).map((r) => {
      const spec = r.RoleSpec as N;
      if (spec.roletype === 'ROLESPEC_PUBLIC') return 'public';
      if (spec.roletype === 'ROLESPEC_CSTRING') return spec.rolename as string;
      throw sqlError('0A000', `${String(spec.roletype).replace('ROLESPEC_', '').toLowerCase()} in TO is not supported: name roles`, loc(spec));
    });
    const qual = b.qual as N | undefined;
    const check = b.with_check as N | undefined;
    if (command === 'insert' && qual !== undefined) throw sqlError('42601', 'only WITH CHECK expression allowed for INSERT', loc(bodyOf(qual)));
    if ((command === 'select' || command === 'delete') && check !== undefined) throw sqlError('42601', 'WITH CHECK cannot be applied to SELECT or DELETE', loc(bodyOf(check)));
    for (const e of [qual, check]) {
      if (e !== undefined && containsNode(e, 'ParamRef')) throw sqlError('42P02', 'there is no parameter $1 (policy expressions cannot use parameters)', loc(bodyOf(e)));
    }
    // Bound now, so a bad column, type or function is reported at CREATE POLICY (as PostgreSQL does).
    const st = this.newStatement(req, null);
    const binder = this.binder(st, req);
    const cols = info.columns.map((c) => ({ name: c.name, type: sqlTypeOf(c), hidden: c.sqlType === 'rowid' }));
    if (qual !== undefined) binder.policyExpression(qual, table, cols, 'USING');
    if (check !== undefined) binder.policyExpression(check, table, cols, 'WITH CHECK');
    const texts = policyTexts(req.query);
    if ((qual !== undefined) !== (texts.using !== null) || (check !== undefined) !== (texts.check !== null)) {
      throw new Error('assertion failed: the policy expressions were not found in the statement text');
    }
    if (store.findPolicy('table', table, name) !== undefined) throw sqlError('42710', `policy "${name}" for table "${table}" already exists`);
    try {
      await store.createPolicy({ kind: 'table', name, table, command, roles: roles.length === 0 ? ['public'] : roles, using: texts.using, check: texts.check });
    } catch (e) {
      if (e instanceof MantisError && sqlstateOf(e) === '42710') throw sqlError('42710', `policy "${name}" for table "${table}" already exists`);
      throw e;
    }
    this.o.security?.audit?.('auth.policy.create', req.sec.principal, `policy:table:${name}`, { table, command, roles, using: texts.using, check: texts.check });
    return empty('CREATE POLICY', timing);
  }

  /** DROP POLICY [IF EXISTS] name ON t. */
  private async dropPolicy(b: N, req: Req, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const store = this.securityStore();
    const ifExists = b.missing_ok === true;
    const names = list((list(b.objects)[0]?.List as N | undefined)?.items).map(str);
    const name = names[names.length - 1];
    const table = names[names.length - 2];
    if (names.length === 3 && names[0] !== 'public') throw sqlError('3F000', `schema "${names[0]}" does not exist`, undefined, 'SQL_UNDEFINED_TABLE');
    if (this.o.tables.catalog.get(table) === undefined) {
      if (ifExists) return { ...empty('DROP POLICY', timing), notice: `NOTICE 42P01: relation "${table}" does not exist, skipping` };
      throw sqlError('42P01', `relation "${table}" does not exist`);
    }
    req.sec.admin('drop policies');
    req.sec.table(table, 'write');
    if (!(await store.dropPolicy('table', table, name))) {
      if (ifExists) return { ...empty('DROP POLICY', timing), notice: `NOTICE 42704: policy "${name}" for relation "${table}" does not exist, skipping` };
      throw sqlError('42704', `policy "${name}" for table "${table}" does not exist`, undefined, 'POLICY_NOT_FOUND');
    }
    this.o.security?.audit?.('auth.policy.drop', req.sec.principal, `policy:table:${name}`, { table });
    return empty('DROP POLICY', timing);
  }

  private async createTable(b: N, req: Req, timing: SqlAnswer['timing']): Promise<SqlAnswer> {
    const rel = b.relation as N;
    const name = rel.relname as string;
    if (rel.relpersistence === 't') throw sqlError('0A000', 'temporary tables are not supported');
    if (b.inhRelations !== undefined) throw sqlError('0A000', 'table inheritance is not supported');
    if (b.partspec !== undefined) throw sqlError('0A000', 'partitioned tables are not supported');
    const t = this.o.tables;
    req.sec.table(name, 'write');
    if (t.catalog.get(name) !== undefined) {
      if (b.if_not_exists === true) return { ...empty('CREATE TABLE', timing), notice: `NOTICE 42P07: relation "${name}" already exists, skipping` };
      throw sqlError('42P07', `relation "${name}" already exists`);
    }
    // Table constraints first (PRIMARY KEY (a, b), UNIQUE (c)).
    let primaryKey: string[] = [];
    const uniques: string[][] = [];
    for (const el of list(b.tableElts)) {
      if (kindOf(el) !== 'Constraint') continue;
      const con = el.Constraint as N;
      const keys = list(con.keys).map(str);
      if (con.contype === 'CONSTR_PRIMARY') {
        if (primaryKey.length > 0) throw sqlError('42P16', `multiple primary keys for table "${name}" are not allowed`);
        primaryKey = keys;
      } else if (con.contype === 'CONSTR_UNIQUE') uniques.push(keys);
      else throw sqlError('0A000', `${String(con.contype).replace('CONSTR_', '')} constraints are not supported`);
    }
    const pkSet = new Set(primaryKey);
    const cols: ColumnInput[] = [];
    for (const el of list(b.tableElts)) {
      if (kindOf(el) !== 'ColumnDef') {
        if (kindOf(el) === 'TableLikeClause') throw sqlError('0A000', 'CREATE TABLE … LIKE is not supported');
        continue;
      }
      const c = this.columnOf(el.ColumnDef as N, pkSet);
      if (c.input.name === ROWID) throw sqlError('42701', `column name "${ROWID}" is reserved (the hidden row id of tables without a primary key)`);
      if (cols.some((x) => x.name === c.input.name)) throw sqlError('42701', `column "${c.input.name}" specified more than once`);
      if (c.primary && !pkSet.has(c.input.name)) {
        if (primaryKey.length > 0) throw sqlError('42P16', `multiple primary keys for table "${name}" are not allowed`);
        primaryKey = [c.input.name];
        pkSet.add(c.input.name);
      }
      if (c.unique) uniques.push([c.input.name]);
      cols.push(c.input);
    }
    if (cols.length === 0) throw sqlError('0A000', 'a table needs at least one column');
    for (const k of primaryKey) {
      const col = cols.find((c) => c.name === k);
      if (col === undefined) throw sqlError('42703', `column "${k}" named in key does not exist`);
      col.nullable = false;
    }
    if (primaryKey.length === 0) {
      cols.push({ name: ROWID, type: 'int64', nullable: false, default: null, sqlType: 'rowid' });
      primaryKey = [ROWID];
    }
    await t.createTable({ name, columns: cols, primaryKey, ifNotExists: false }, req.deadlineMs);
    try {
      for (const keys of uniques) {
        if (keys.length === primaryKey.length && keys.every((k) => primaryKey.includes(k))) continue;
        await t.createIndex(name, { name: `${name}_${keys.join('_')}_key`, columns: keys, type: 'btree', unique: true, ifNotExists: false } as never, req.deadlineMs);
      }
    } catch (e) {
      await t.dropTable(name, { ifExists: true }, req.deadlineMs).catch(() => undefined);
      throw e;
    }
    return empty('CREATE TABLE', timing);
  }
}

// ---- helpers ----

/** The rows an UPDATE/DELETE matched, once per target row (FROM/USING may match one several times: the first wins). */
function oncePerKey(rows: Row[], pkAt: number[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const key = JSON.stringify(pkAt.map((k) => String(r[k])));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function empty(command: string, timing: SqlAnswer['timing']): SqlAnswer {
  return { command, columns: [], types: [], rows: [], rowCount: 0, timing };
}

function commandOfDdl(kind: string, b: N): string {
  switch (kind) {
    case 'CreateStmt':
      return 'CREATE TABLE';
    case 'DropStmt':
      return `DROP ${String(b.removeType).replace('OBJECT_', '')}`;
    case 'IndexStmt':
      return 'CREATE INDEX';
    case 'AlterTableStmt':
      return 'ALTER TABLE';
    default:
      return 'TRUNCATE';
  }
}

/** PostgreSQL's assignment cast: numeric types convert both ways, unknown literals parse; others must match. */
function assignCast(binder: Binder, e: Expr, t: SqlType, column: string): Expr {
  if (e.type === t || e.type === 'unknown') return binder.coerceTo(e, t);
  const num = (x: SqlType): boolean => NUMERIC_RANK[x] !== undefined;
  const time = (x: SqlType): boolean => x === 'date' || x === 'timestamp' || x === 'timestamptz';
  const text = (x: SqlType): boolean => x === 'text' || x === 'uuid';
  if ((num(e.type) && num(t)) || (time(e.type) && time(t)) || (t === 'text' && text(e.type)) || (t === 'jsonb' && e.type === 'text') === false && false) {
    if (e.k === 'const') return { k: 'const', value: castValue(e.value, e.type, t), type: t };
    return { k: 'cast', arg: e, type: t };
  }
  throw sqlError('42804', `column "${column}" is of type ${TYPE_DISPLAY[t]} but expression is of type ${TYPE_DISPLAY[e.type]}`);
}

/** NOT NULL and narrow-integer range checks of a full row before it is written. */
function checkRow(info: TableInfo, cols: { name: string; type: SqlType }[], row: Value[]): void {
  for (let i = 0; i < cols.length; i++) {
    const v = row[i];
    const c = info.columns[i];
    if (v === null) {
      if (!c.nullable) throw sqlError('23502', `null value in column "${c.name}" of relation "${info.name}" violates not-null constraint`);
      continue;
    }
    if (c.sqlType !== undefined && c.sqlType.includes('(')) {
      const mod = typmodOf(c.sqlType);
      if (mod.scale !== null && typeof v === 'number' && Number.isFinite(v)) {
        const f = 10 ** mod.scale;
        const r = (Math.sign(v) * Math.round(Math.abs(v) * f + 1e-9)) / f;
        if (mod.precision !== null && Math.abs(r) >= 10 ** (mod.precision - mod.scale)) {
          throw sqlError('22003', `numeric field overflow`);
        }
        row[i] = r;
      } else if (mod.length !== null && typeof v === 'string' && [...v].length > mod.length) {
        // PostgreSQL: trailing spaces past the length are cut silently; anything else is an error.
        const chars = [...v];
        if (chars.slice(mod.length).every((ch) => ch === ' ')) row[i] = chars.slice(0, mod.length).join('');
        else throw sqlError('22001', `value too long for type character varying(${mod.length})`);
      }
    }
    const range = INT_RANGE[cols[i].type];
    if (range !== undefined && (typeof v === 'number' || typeof v === 'bigint')) {
      const b = BigInt(v);
      if (b < range[0] || b > range[1]) throw sqlError('22003', `${TYPE_DISPLAY[cols[i].type]} out of range`);
    }
  }
}

/** A SQL value as the table cell of its column. */
function toCell(v: Value, type: SqlType): Cell {
  if (v === null) return null;
  if ((type === 'timestamptz' || type === 'timestamp' || type === 'date') && typeof v === 'number' && !Number.isSafeInteger(v)) {
    if (!Number.isFinite(v)) throw sqlError('0A000', `infinite ${type === 'date' ? 'dates' : 'timestamps'} cannot be stored`);
    return BigInt(Math.round(v));
  }
  if (v instanceof Jsonb) return JSON.stringify(v.value);
  if (v instanceof Interval) throw sqlError('0A000', 'interval values cannot be stored');
  if (type === 'float4' || type === 'float8' || type === 'numeric') return Number(v);
  return v as Cell;
}

function splitAnd(e: Expr): Expr[] {
  return e.k === 'and' ? e.args.flatMap(splitAnd) : [e];
}

function onlyBelow(e: Expr, width: number): boolean {
  let ok = true;
  let any = false;
  const visit = (x: Expr): void => {
    if (x.k === 'col') {
      any = true;
      if (x.idx >= width) ok = false;
    }
  };
  walkAll(e, visit);
  return ok && any;
}

function hasSub(e: Expr): boolean {
  let found = false;
  walkAll(e, (x) => {
    if (x.k === 'subq' || x.k === 'outer') found = true;
  });
  return found;
}

function walkAll(e: Expr, f: (e: Expr) => void): void {
  f(e);
  const anyE = e as unknown as Record<string, unknown>;
  for (const key of ['args', 'list']) {
    const v = anyE[key];
    if (Array.isArray(v)) for (const x of v as Expr[]) walkAll(x, f);
  }
  for (const key of ['arg', 'a', 'b', 'else', 'test']) {
    const v = anyE[key];
    if (v !== undefined && v !== null && typeof v === 'object' && 'k' in (v as object)) walkAll(v as Expr, f);
  }
  if (e.k === 'case') for (const w of e.whens) {
    walkAll(w.cond, f);
    walkAll(w.then, f);
  }
}

class FilterLike extends ProjectNode {
  constructor(child: PlanNode, readonly pred: ReturnType<typeof compile>) {
    super(child, [], child.cols);
    (this as { name: string }).name = 'Filter';
  }
  protected override exec(env: Env): Row[] {
    return this.child.run(env).filter((r) => this.pred(r, env) === true);
  }
}

function joinAll(left: PlanNode, right: PlanNode): PlanNode {
  return new CrossJoin(left, right);
}

class CrossJoin extends ProjectNode {
  constructor(readonly l: PlanNode, readonly r: PlanNode) {
    super(l, [], [...l.cols, ...r.cols]);
    this.children = [l, r];
    this.selfCharged = true;
    (this as { name: string }).name = 'Nested Loop';
  }
  protected override exec(env: Env): Row[] {
    const L = this.l.run(env);
    const R = this.r.run(env);
    const out: Row[] = [];
    const bytes = (this.l.cols.length + this.r.cols.length) * 16 + 48;
    for (const a of L) {
      env.check();
      env.charge(R.length * bytes);
      for (const b of R) out.push([...a, ...b]);
    }
    return out;
  }
}

/** Service and shard errors as SQL errors (SQLSTATE in details). */
export function toSqlError(e: MantisError): MantisError {
  if (sqlstateOf(e) !== undefined) return e;
  const map: Record<string, string> = {
    TABLE_NOT_FOUND: '42P01',
    TABLE_EXISTS: '42P07',
    INDEX_EXISTS: '42P07',
    INDEX_NOT_FOUND: '42704',
    COLUMN_EXISTS: '42701',
    UNKNOWN_COLUMN: '42703',
    TYPE_MISMATCH: '42804',
    NOT_NULL_VIOLATION: '23502',
    DUPLICATE_KEY: '23505',
    TXN_CONFLICT: '40001',
    TXN_ABORTED: '40001',
    TXN_NOT_FOUND: '25P01',
    TXN_EXPIRED: '25P01',
    DEADLINE_EXCEEDED: '57014',
    INVALID_SCHEMA: '42601',
    INVALID_PARAMETER: '22023',
    BAD_QUERY: '42601',
    INVALID_JSON: '08P01',
    INVALID_CONTENT_TYPE: '08P01',
    UNSUPPORTED_MEDIA_TYPE: '08P01',
    BODY_TOO_LARGE: '54000',
    METHOD_NOT_ALLOWED: '08P01',
    SHARD_UNAVAILABLE: '58000',
    SHARD_BUSY: '53300',
    SHUTTING_DOWN: '57P01',
    STORAGE_IO: '58030',
    STORAGE_FULL: '53100',
    TXN_LIMIT: '53300',
    TXN_SNAPSHOT_TOO_OLD: '72000',
    TXN_OUTCOME_UNKNOWN: '08007',
    FORBIDDEN: '42501',
    UNAUTHORIZED: '28000',
  };
  // The transaction write limit (keys: a row is one, plus index entries and delete marks): program_limit_exceeded.
  const limit = e.code === 'INVALID_PARAMETER' && /would write .*keys|limit is \d+/.test(e.message);
  const sqlstate = limit ? '54000' : (map[e.code] ?? 'XX000');
  const message = e.code === 'DUPLICATE_KEY' && !e.message.startsWith('duplicate key') ? `duplicate key value violates unique constraint: ${e.message}` : e.message;
  return new MantisError(e.code, message, { ...(e.details ?? {}), sqlstate });
}

export { PrefetchedNode, valueToJson };
export type { ColInfo };

/** Schema changes to a table under row-level security would act on every caller's rows: only a caller that bypasses it may make them. */
function rlsSchemaGuard(req: Req, table: string, what: string): void {
  if (req.sec.rls(table)) throw forbidden(`permission denied for table ${table}: ${what} of a table with row-level security needs a caller that bypasses it (an admin)`);
}
