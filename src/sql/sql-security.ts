// Who runs a statement, and what that lets it see (issue 14). One
// `StatementSecurity` per statement: the permission checks (`tables:<t>`,
// `kv:`, `docs:<c>`, `sql` write, `admin` write), refused with 42501
// (FORBIDDEN, HTTP 403), and row-level security: the USING texts of the
// policies that apply to the caller for a command (the binder binds them over
// the scanned table and ANDs them into its filter) and the WITH CHECK texts a
// written row must pass. Without an auth store (auth off) nothing is checked
// and no policy applies; auth.uid()/auth.jwt() then answer the system
// principal's values.
//
// The other models' policies apply too: a collection relation's scans go
// through DocService.find with the caller's DocAccess (its document policies),
// and the kv relation shows only the keys the KV policies' prefix templates
// let the caller read (the same rule as the KV routes').
//
// Policies are stored as the expression's source text (the slice of the CREATE
// POLICY statement between the parentheses); `policyAst` parses such a text
// once (an LRU by text) into the expression's raw tree.

import { scanSync } from 'libpg-query';
import { MantisError } from '../../shared/errors.js';
import type { AuthStore } from '../security/auth-store.js';
import { kvRuleFor, policyApplies, type PolicyCommand, type TablePolicy } from '../security/policy-types.js';
import { SYSTEM, type Action, type Principal } from '../security/principal.js';
import { parseStatement } from './sql-parse.js';
import { bodyOf, kindOf, list, type N } from './pg-ast.js';

export type SqlAuthStore = AuthStore;

/** `SqlExecutorOptions.security`: present when auth is on. */
export type SqlSecurityOptions = {
  readonly store: SqlAuthStore;
  /** Records security changes made in SQL (CREATE/DROP POLICY, ENABLE/DISABLE ROW LEVEL SECURITY) in the audit log. */
  readonly audit?: (action: string, principal: Principal, target: string, details: Readonly<Record<string, unknown>>) => void;
};

export type RowCommand = Exclude<PolicyCommand, 'all'>;

/** 42501 insufficient_privilege, answered 403 FORBIDDEN. */
export function forbidden(message: string): MantisError {
  return new MantisError('FORBIDDEN', message, { sqlstate: '42501' });
}

/** A written row that no applicable policy's WITH CHECK (or USING) lets through. */
export function rlsViolation(table: string, using = false): MantisError {
  return forbidden(`new row violates row-level security policy${using ? ' (USING expression)' : ''} for table "${table}"`);
}

export class StatementSecurity {
  constructor(
    readonly principal: Principal,
    /** null: auth is off (nothing is checked, no policy applies). */
    readonly store: SqlAuthStore | null,
  ) {}

  /** Whether permissions are checked at all (auth on). */
  get checked(): boolean {
    return this.store !== null;
  }

  can(resource: string, action: Action): boolean {
    return this.store === null || this.principal.can(resource, action);
  }

  table(name: string, action: Action): void {
    if (!this.can(`tables:${name}`, action)) throw forbidden(`permission denied for table ${name} (needs tables:${name} ${action})`);
  }

  collection(name: string): void {
    if (!this.can(`docs:${name}`, 'read')) throw forbidden(`permission denied for collection ${name} (needs docs:${name} read)`);
  }

  kv(): void {
    if (!this.can('kv:', 'read')) throw forbidden('permission denied for relation kv (needs kv: read)');
  }

  /** Statements that change data or schema need `sql` write besides their tables' permissions. */
  sqlWrite(): void {
    if (!this.can('sql', 'write')) throw forbidden('permission denied: statements that write need sql write');
  }

  admin(what: string): void {
    if (!this.can('admin', 'write')) throw forbidden(`permission denied to ${what} (needs admin write)`);
  }

  /** Is the table under row-level security for this caller (enabled, and the caller does not bypass it)? */
  rls(table: string): boolean {
    return this.store !== null && !this.principal.bypassRls && this.store.rlsEnabled(table);
  }

  /**
   * Which keys of the kv relation the caller reads: null for every key; else keys under a KV
   * policy's scope must be under one of the applicable policies' rendered templates (the KV
   * routes' rule, security.ts kvRule).
   */
  kvVisible(): ((key: string) => boolean) | null {
    if (this.store === null || this.principal.bypassRls) return null;
    return kvRuleFor(this.store.policies(), this.principal, 'select');
  }


  private applicable(table: string, command: RowCommand): TablePolicy[] {
    const store = this.store as SqlAuthStore;
    return store.policies().filter((p): p is TablePolicy => p.kind === 'table' && p.table === table && policyApplies(p, this.principal.roles, command));
  }

  /**
   * The USING texts of the policies that apply to the caller for `command` on `table` (a row is
   * visible when any is true; none: no row is). null when the table is not under RLS for the caller.
   */
  usingTexts(table: string, command: RowCommand): string[] | null {
    if (!this.rls(table)) return null;
    return dedupe(this.applicable(table, command).map((p) => p.using));
  }

  /**
   * The texts a new row must pass (any of) for INSERT or UPDATE: each applicable policy's WITH
   * CHECK, or its USING when it has none (PostgreSQL's rule). null when not under RLS.
   */
  checkTexts(table: string, command: 'insert' | 'update'): string[] | null {
    if (!this.rls(table)) return null;
    return dedupe(this.applicable(table, command).map((p) => p.check ?? p.using));
  }
}

function dedupe(texts: (string | null)[]): string[] {
  return [...new Set(texts.filter((t): t is string => t !== null))];
}

/** The statement's security: `store` null when auth is off; the principal defaults to the system. */
export function statementSecurity(store: SqlAuthStore | null, principal: Principal | undefined): StatementSecurity {
  return new StatementSecurity(principal ?? SYSTEM, store);
}

// ---- policy expression texts ----

const AST_CACHE_MAX = 1000;
const astCache = new Map<string, N>();

/** A stored policy expression's raw tree (cached by text). */
export function policyAst(text: string): N {
  const hit = astCache.get(text);
  if (hit !== undefined) {
    astCache.delete(text);
    astCache.set(text, hit);
    return hit;
  }
  const stmt = bodyOf(parseStatement(`SELECT (${text})`));
  const targets = list(stmt.targetList);
  if (targets.length !== 1 || stmt.fromClause !== undefined || stmt.whereClause !== undefined) {
    throw new MantisError('SQL_SYNTAX_ERROR', `the policy expression "${text}" is not one expression`, { sqlstate: '42601' });
  }
  const ast = (targets[0].ResTarget as N).val as N;
  astCache.set(text, ast);
  if (astCache.size > AST_CACHE_MAX) astCache.delete(astCache.keys().next().value as string);
  return ast;
}

/**
 * The source texts of CREATE POLICY's USING (…) and WITH CHECK (…) expressions: the query's
 * slices between each clause's parentheses (found on the token stream, so parentheses inside
 * string literals do not count).
 */
export function policyTexts(query: string): { using: string | null; check: string | null } {
  const bytes = Buffer.from(query, 'utf8');
  const tokens = scanSync(query).tokens;
  const slice = (open: number): string | null => {
    if (tokens[open]?.text !== '(') return null;
    let depth = 0;
    for (let i = open; i < tokens.length; i++) {
      if (tokens[i].text === '(') depth++;
      else if (tokens[i].text === ')' && --depth === 0) return bytes.subarray(tokens[open].end, tokens[i].start).toString('utf8').trim();
    }
    return null;
  };
  let using: string | null = null;
  let check: string | null = null;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.text === '(') depth++;
    else if (t.text === ')') depth--;
    if (depth !== 0 || t.keywordKind === 0) continue;
    const word = t.text.toUpperCase();
    if (word === 'USING' && using === null) using = slice(i + 1);
    else if (word === 'WITH' && tokens[i + 1]?.text.toUpperCase() === 'CHECK' && check === null) check = slice(i + 2);
  }
  return { using, check };
}

/** Whether a raw tree holds a node of this kind (ParamRef, SubLink…). */
export function containsNode(node: unknown, kind: string): boolean {
  if (node === null || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some((x) => containsNode(x, kind));
  if (kindOf(node) === kind) return true;
  return Object.values(node as N).some((v) => containsNode(v, kind));
}
