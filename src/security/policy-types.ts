// Row-level security policies, as PostgreSQL's: per table (or collection, or
// KV key scope), per command, per role; USING says which rows a role sees,
// WITH CHECK which rows it may write. Several policies on one object are
// permissive (OR-ed), as PostgreSQL's default. Stored by the AuthStore
// (src/security/auth-store.ts); enforced by the SQL binder (tables), the
// document layer (collections) and the KV routes (key scopes).

export type PolicyCommand = 'all' | 'select' | 'insert' | 'update' | 'delete';
export const POLICY_COMMANDS: readonly PolicyCommand[] = ['all', 'select', 'insert', 'update', 'delete'];

/** On a SQL table: using/check are SQL boolean expressions over the row, with auth.uid(), auth.jwt(), auth.role(). */
export type TablePolicy = {
  readonly kind: 'table';
  readonly name: string;
  readonly table: string;
  readonly command: PolicyCommand;
  /** Role names; 'public' means every role. */
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly check: string | null;
};

/** On a collection: using/check are filter documents; a string "$$CLAIMS.x" stands for the caller's claim x. */
export type DocPolicy = {
  readonly kind: 'docs';
  readonly name: string;
  readonly collection: string;
  readonly command: PolicyCommand;
  readonly roles: readonly string[];
  readonly using: Readonly<Record<string, unknown>> | null;
  readonly check: Readonly<Record<string, unknown>> | null;
};

/**
 * On KV keys: a prefix template such as "user:{sub}:" or "tenant:{tenant}:". The template's
 * literal head ("user:") is its scope: once a policy applies to a caller, the keys under that
 * scope it may touch are those under the rendered template ("user:alice:"). Keys outside every
 * scope are governed by permissions only.
 */
export type KvPolicy = {
  readonly kind: 'kv';
  readonly name: string;
  readonly template: string;
  readonly command: PolicyCommand;
  readonly roles: readonly string[];
};

export type Policy = TablePolicy | DocPolicy | KvPolicy;

/** Does the policy apply to a caller with these roles, for this command? */
export function policyApplies(policy: { readonly roles: readonly string[]; readonly command: PolicyCommand }, roles: readonly string[], command: Exclude<PolicyCommand, 'all'>): boolean {
  if (policy.command !== 'all' && policy.command !== command) return false;
  return policy.roles.includes('public') || policy.roles.some((r) => roles.includes(r));
}

/** A claim value as RLS reads it: strings as they are, numbers/booleans as text; anything else is absent. */
export function claimText(claims: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = claims[name];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** The literal head of a KV template: its scope. */
export function kvScope(template: string): string {
  const brace = template.indexOf('{');
  return brace < 0 ? template : template.slice(0, brace);
}

/**
 * Renders a KV template for a caller: {sub} is the subject, {x} the claim x. A missing claim
 * renders nothing (null): the caller then sees no key under the scope.
 */
export function renderKvTemplate(template: string, sub: string, claims: Readonly<Record<string, unknown>>): string | null {
  let missing = false;
  const out = template.replace(/\{([A-Za-z_][A-Za-z0-9_.-]*)\}/g, (_, name: string) => {
    const value = name === 'sub' ? sub : claimText(claims, name);
    if (value === undefined || value === '') {
      missing = true;
      return '';
    }
    return value;
  });
  return missing ? null : out;
}

export function templateProblem(template: unknown): string | null {
  if (typeof template !== 'string' || template === '') return 'prefix must be a non-empty string';
  if (template.length > 512) return 'prefix must be at most 512 characters';
  if (!/\{[A-Za-z_][A-Za-z0-9_.-]*\}/.test(template)) return 'prefix must contain a placeholder such as {sub} or {tenant}';
  if (/\{(?![A-Za-z_][A-Za-z0-9_.-]*\})/.test(template) || /(?<!\{[A-Za-z0-9_.-]*)\}/.test(template.replace(/\{[A-Za-z_][A-Za-z0-9_.-]*\}/g, ''))) {
    return 'prefix has an unbalanced brace';
  }
  if (kvScope(template) === '') return 'prefix must start with literal text before the first placeholder (its scope)';
  return null;
}

/**
 * The KV rule of a caller (roles, subject, claims) for a command: null when no KV policy exists,
 * else a predicate on keys — a key under a policy's scope must be under one of the rendered
 * templates of the policies that apply to the caller (none apply: nothing under that scope).
 */
export function kvRuleFor(
  policies: readonly Policy[],
  caller: { readonly roles: readonly string[]; readonly sub: string; readonly claims: Readonly<Record<string, unknown>> },
  command: Exclude<PolicyCommand, 'all'>,
): ((key: string) => boolean) | null {
  const kv = policies.filter((p): p is KvPolicy => p.kind === 'kv');
  if (kv.length === 0) return null;
  const scopes = new Map<string, string[]>();
  for (const p of kv) {
    const scope = kvScope(p.template);
    if (!scopes.has(scope)) scopes.set(scope, []);
    if (!policyApplies(p, caller.roles, command)) continue;
    const rendered = renderKvTemplate(p.template, caller.sub, caller.claims);
    if (rendered !== null) (scopes.get(scope) as string[]).push(rendered);
  }
  const rules = [...scopes];
  return (key) => rules.every(([scope, allowed]) => !key.startsWith(scope) || allowed.some((prefix) => key.startsWith(prefix)));
}
