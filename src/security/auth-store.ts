// Users, API keys, custom roles, row-level security policies and revoked
// sessions, kept in <data>/auth/state.json. Every change is written to a temp
// file, fsynced and renamed over the old one (then the directory is fsynced)
// before it takes effect: a change that could not be made durable is refused.
// Writes are serialized; reads are from memory. Passwords are argon2id hashes;
// API keys are stored as SHA-256 of their secret (they carry 192 random bits,
// so a slow hash adds nothing) and compared in constant time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { MantisError } from '../../shared/errors.js';
import { BUILTIN_ROLES, type Permission, type Role } from './principal.js';
import type { Policy } from './policy-types.js';

export type UserRecord = {
  readonly username: string;
  /** argon2id PHC string; '' for users that log in only through an OAuth provider. */
  readonly hash: string;
  readonly roles: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
  readonly created_at: string;
  readonly source: 'local' | 'oauth';
};

export type KeyRecord = {
  readonly id: string;
  readonly name: string;
  /** Hex SHA-256 of the secret part. */
  readonly hash: string;
  readonly roles: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
  readonly created_at: string;
  readonly created_by: string;
  /** Unix seconds, or null for a key that does not expire. */
  readonly expires_at: number | null;
  readonly revoked_at: string | null;
};

type State = {
  version: 1;
  users: UserRecord[];
  keys: KeyRecord[];
  roles: Role[];
  policies: Policy[];
  /** Tables with ALTER TABLE … ENABLE ROW LEVEL SECURITY. */
  rls_tables: string[];
  /** Logged-out sessions: token id → expiry (unix seconds), dropped once expired. */
  revoked_sessions: Record<string, number>;
};

const EMPTY: State = { version: 1, users: [], keys: [], roles: [], policies: [], rls_tables: [], revoked_sessions: {} };

export const KEY_PREFIX = 'mk_';

export class AuthStore {
  private state: State;
  private queue: Promise<void> = Promise.resolve();
  /** Bumped on every change: cached principals built before it are stale. */
  private epochValue = 0;
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly dir: string,
    state: State,
  ) {
    this.state = state;
  }

  static async open(dataDir: string): Promise<AuthStore> {
    const dir = join(dataDir, 'auth');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let state: State;
    try {
      const parsed = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as Partial<State>;
      state = { ...structuredClone(EMPTY), ...parsed, version: 1 };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new Error(`cannot read ${join(dir, 'state.json')}: ${(error as Error).message}`);
      }
      state = structuredClone(EMPTY);
    }
    return new AuthStore(dir, state);
  }

  get epoch(): number {
    return this.epochValue;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The server's own JWT signing secret, created on first use (mode 0600) when none is configured. */
  async signingSecret(): Promise<Uint8Array> {
    const path = join(this.dir, 'jwt-secret');
    try {
      const text = (await readFile(path, 'utf8')).trim();
      if (text.length >= 43) return Buffer.from(text, 'base64url');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const secret = randomBytes(32);
    await writeDurably(this.dir, 'jwt-secret', secret.toString('base64url'), 0o600);
    return secret;
  }

  // --- reads -------------------------------------------------------------

  users(): readonly UserRecord[] {
    return this.state.users;
  }

  user(username: string): UserRecord | undefined {
    return this.state.users.find((u) => u.username === username);
  }

  keys(): readonly KeyRecord[] {
    return this.state.keys;
  }

  key(id: string): KeyRecord | undefined {
    return this.state.keys.find((k) => k.id === id);
  }

  roles(): readonly Role[] {
    return [...BUILTIN_ROLES, ...this.state.roles];
  }

  role(name: string): Role | undefined {
    return BUILTIN_ROLES.find((r) => r.name === name) ?? this.state.roles.find((r) => r.name === name);
  }

  policies(): readonly Policy[] {
    return this.state.policies;
  }

  rlsEnabled(table: string): boolean {
    return this.state.rls_tables.includes(table);
  }

  sessionRevoked(jti: string): boolean {
    return Object.hasOwn(this.state.revoked_sessions, jti);
  }

  /** Finds the key a presented "mk_<id>_<secret>" names and checks its secret in constant time. */
  matchKey(presented: string): KeyRecord | 'bad' {
    if (!presented.startsWith(KEY_PREFIX)) return 'bad';
    const rest = presented.slice(KEY_PREFIX.length);
    const sep = rest.indexOf('_');
    if (sep <= 0) return 'bad';
    const record = this.key(rest.slice(0, sep));
    const given = createHash('sha256').update(rest.slice(sep + 1)).digest();
    // Compare even when the id is unknown, so timing does not tell ids apart.
    const stored = record === undefined ? Buffer.alloc(32) : Buffer.from(record.hash, 'hex');
    const same = timingSafeEqual(given, stored);
    return record !== undefined && same ? record : 'bad';
  }

  // --- writes ------------------------------------------------------------

  async putUser(user: UserRecord): Promise<void> {
    await this.change((s) => {
      s.users = [...s.users.filter((u) => u.username !== user.username), user];
    });
  }

  async deleteUser(username: string): Promise<boolean> {
    if (this.user(username) === undefined) return false;
    await this.change((s) => {
      s.users = s.users.filter((u) => u.username !== username);
    });
    return true;
  }

  /** Creates a key; the plain key ("mk_<id>_<secret>") is returned once and never stored. */
  async createKey(input: { name: string; roles: readonly string[]; claims: Readonly<Record<string, unknown>>; expiresAt: number | null; createdBy: string }): Promise<{ record: KeyRecord; key: string }> {
    const id = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
    const secret = randomBytes(24).toString('base64url');
    const record: KeyRecord = {
      id,
      name: input.name,
      hash: createHash('sha256').update(secret).digest('hex'),
      roles: [...input.roles],
      claims: input.claims,
      created_at: new Date().toISOString(),
      created_by: input.createdBy,
      expires_at: input.expiresAt,
      revoked_at: null,
    };
    await this.change((s) => {
      s.keys = [...s.keys, record];
    });
    return { record, key: `${KEY_PREFIX}${id}_${secret}` };
  }

  async revokeKey(id: string): Promise<KeyRecord | undefined> {
    const record = this.key(id);
    if (record === undefined) return undefined;
    if (record.revoked_at !== null) return record;
    const revoked = { ...record, revoked_at: new Date().toISOString() };
    await this.change((s) => {
      s.keys = s.keys.map((k) => (k.id === id ? revoked : k));
    });
    return revoked;
  }

  async putRole(name: string, permissions: readonly Permission[]): Promise<void> {
    if (BUILTIN_ROLES.some((r) => r.name === name)) throw new MantisError('INVALID_PARAMETER', `role "${name}" is built in and cannot be changed`);
    await this.change((s) => {
      s.roles = [...s.roles.filter((r) => r.name !== name), { name, permissions }];
    });
  }

  async deleteRole(name: string): Promise<boolean> {
    if (BUILTIN_ROLES.some((r) => r.name === name)) throw new MantisError('INVALID_PARAMETER', `role "${name}" is built in and cannot be dropped`);
    if (!this.state.roles.some((r) => r.name === name)) return false;
    await this.change((s) => {
      s.roles = s.roles.filter((r) => r.name !== name);
    });
    return true;
  }

  /** Adds a policy; a policy of the same kind, object and name is an error (42710 in SQL). */
  async createPolicy(policy: Policy): Promise<void> {
    if (this.findPolicy(policy.kind, objectOf(policy), policy.name) !== undefined) {
      throw new MantisError('INVALID_PARAMETER', `policy "${policy.name}" for ${policy.kind} "${objectOf(policy)}" already exists`, { sqlstate: '42710' });
    }
    await this.change((s) => {
      s.policies = [...s.policies, policy];
    });
  }

  findPolicy(kind: Policy['kind'], object: string, name: string): Policy | undefined {
    return this.state.policies.find((p) => p.kind === kind && objectOf(p) === object && p.name === name);
  }

  async dropPolicy(kind: Policy['kind'], object: string, name: string): Promise<boolean> {
    if (this.findPolicy(kind, object, name) === undefined) return false;
    await this.change((s) => {
      s.policies = s.policies.filter((p) => !(p.kind === kind && objectOf(p) === object && p.name === name));
    });
    return true;
  }

  /** Drops every policy and the RLS flag of a table (DROP TABLE). */
  async forgetTable(table: string): Promise<void> {
    if (!this.state.rls_tables.includes(table) && !this.state.policies.some((p) => p.kind === 'table' && p.table === table)) return;
    await this.change((s) => {
      s.rls_tables = s.rls_tables.filter((t) => t !== table);
      s.policies = s.policies.filter((p) => !(p.kind === 'table' && p.table === table));
    });
  }

  async setRls(table: string, enabled: boolean): Promise<void> {
    if (this.rlsEnabled(table) === enabled) return;
    await this.change((s) => {
      s.rls_tables = enabled ? [...s.rls_tables, table] : s.rls_tables.filter((t) => t !== table);
    });
  }

  async revokeSession(jti: string, exp: number): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    await this.change((s) => {
      const kept: Record<string, number> = {};
      for (const [id, until] of Object.entries(s.revoked_sessions)) if (until > now) kept[id] = until;
      kept[jti] = exp;
      s.revoked_sessions = kept;
    });
  }

  /** Applies a change to a copy, writes it durably, then makes it the state. */
  private change(mutate: (s: State) => void): Promise<void> {
    const run = async (): Promise<void> => {
      const next = structuredClone(this.state);
      mutate(next);
      try {
        await writeDurably(this.dir, 'state.json', JSON.stringify(next, null, 1), 0o600);
      } catch (error) {
        throw new MantisError('STORAGE_IO', `the change could not be saved: ${(error as Error).message}`);
      }
      this.state = next;
      this.epochValue++;
      for (const listener of this.listeners) listener();
    };
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

export function objectOf(policy: Policy): string {
  return policy.kind === 'table' ? policy.table : policy.kind === 'docs' ? policy.collection : policy.template;
}

/** Writes a file by temp + fsync + rename + directory fsync. */
export async function writeDurably(dir: string, name: string, text: string, mode: number): Promise<void> {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(text);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
