// The server's secrets: the JWT signing secret, OAuth client secrets, the
// bootstrap admin password, backup keys. Each one comes from, in order of
// precedence:
//
//   1. the environment variable NAME;
//   2. the file named by NAME_FILE (Docker and Kubernetes secrets), one
//      trailing newline stripped;
//   3. a field of one HashiCorp Vault KV v2 secret, when MANTIS_VAULT_ADDR is
//      set: field `admin_password` for MANTIS_ADMIN_PASSWORD (the name without
//      `MANTIS_`, lower-cased), or the exact name as a field.
//
// Vault is reached over its HTTP API with a token (MANTIS_VAULT_TOKEN[_FILE])
// or AppRole (MANTIS_VAULT_ROLE_ID + MANTIS_VAULT_SECRET_ID[_FILE]). A
// renewable token is renewed at two thirds of its lease; when a renewal fails
// and AppRole credentials exist, the client logs in again. reload() (SIGHUP)
// re-reads every file and the Vault secret; it applies all or nothing.
//
// No secret value (nor a Vault token or secret ID) is ever put in a log line,
// an error message, or the object's JSON/inspect form: messages name
// variables, files and Vault routes only, and whatever text comes from outside
// (Vault's error strings, a listener's exception) goes through redact() first.

import { constants as fsConstants } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import type { Logger } from '../log.js';

/** A configuration problem with a secret's source. The message names the variable, file or Vault route, never a value. */
export class SecretError extends Error {
  override name = 'SecretError';
}

export type SecretSource = 'env' | 'file' | 'vault';

export type SecretsOptions = {
  readonly env: NodeJS.ProcessEnv;
  readonly log: Logger;
  /** The secret names this server uses, e.g. ['MANTIS_ADMIN_PASSWORD','MANTIS_JWT_SECRET','MANTIS_BACKUP_KEY', 'MANTIS_OAUTH_GITHUB_CLIENT_SECRET']. */
  readonly names: readonly string[];
};

/** A secret file larger than this is refused: it is almost surely the wrong file. */
const SECRET_FILE_BYTES_MAX = 64 * 1024;
/** Every Vault request is abandoned after this long. */
const VAULT_TIMEOUT_MS = 5000;
/** setTimeout's largest delay; a longer lease is renewed after this instead. */
const TIMER_MS_MAX = 2_147_483_647;
/** Re-login attempts back off from 1 s to this. */
const RELOGIN_BACKOFF_MS_MAX = 60_000;
const REDACTED = '***';
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Resolved = { readonly value: string; readonly source: SecretSource };

// ---------------------------------------------------------------- Secrets

export class Secrets {
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: Logger;
  readonly #names: readonly string[];
  readonly #vaultConfig: VaultConfig | undefined;
  #vault: VaultClient | undefined;
  #current = new Map<string, Resolved>();
  readonly #listeners = new Set<(names: readonly string[]) => void>();
  /** reload() calls run one after another. */
  #reloadChain: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(options: SecretsOptions) {
    this.#env = options.env;
    this.#log = options.log;
    const names: string[] = [];
    for (const name of options.names) {
      if (!NAME_PATTERN.test(name)) throw new SecretError(`"${name}" is not a valid secret name (letters, digits and _)`);
      if (!names.includes(name)) names.push(name);
    }
    this.#names = names;
    this.#vaultConfig = vaultConfigFrom(options.env, options.log);
  }

  /** Reads every secret; rejects with a SecretError naming each source that failed. */
  static async open(options: SecretsOptions): Promise<Secrets> {
    const secrets = new Secrets(options);
    try {
      secrets.#current = await secrets.#load(true);
    } catch (error) {
      secrets.close();
      throw error;
    }
    const sources: Record<string, SecretSource> = {};
    for (const [name, { source }] of secrets.#current) sources[name] = source;
    options.log.debug({ secrets: sources }, 'secrets loaded');
    return secrets;
  }

  /** The value, or undefined when no source gives it (or the name was not declared). Precedence: env var NAME > file named by NAME_FILE > Vault field. */
  get(name: string): string | undefined {
    return this.#current.get(name)?.value;
  }

  /** Where a value came from ('env' | 'file' | 'vault') or undefined — for the config dump/startup log, never the value. */
  source(name: string): SecretSource | undefined {
    return this.#current.get(name)?.source;
  }

  /**
   * Re-reads every file and the Vault secret (SIGHUP). All or nothing: when a
   * source fails, every old value is kept, a warning (no values) is logged
   * and the promise rejects with a SecretError. Otherwise the change
   * listeners hear the names whose value changed.
   */
  reload(): Promise<void> {
    const run = this.#reloadChain.then(() => this.#reload());
    this.#reloadChain = run.catch(() => undefined);
    return run;
  }

  /** Calls listener with the names whose value changed after each successful reload; returns the unsubscribe function. */
  onChange(listener: (names: readonly string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Every current secret value (non-empty), for redaction, including the Vault credentials in use. */
  values(): readonly string[] {
    const out = new Set<string>();
    for (const { value } of this.#current.values()) if (value !== '') out.add(value);
    for (const value of this.#vault?.credentialValues() ?? []) if (value !== '') out.add(value);
    return [...out];
  }

  /** Replaces each occurrence of any secret value in text with "***" (also the JSON-escaped form of a value). */
  redact(text: string): string {
    const needles = new Set<string>();
    for (const value of this.values()) {
      needles.add(value);
      const escaped = JSON.stringify(value).slice(1, -1);
      if (escaped !== value) needles.add(escaped);
    }
    // Longest first, so a value containing another is replaced whole.
    let out = text;
    for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
      if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    }
    return out;
  }

  /** Stops renewal timers and abandons Vault requests in flight. get() keeps answering. */
  close(): void {
    this.#closed = true;
    this.#vault?.close();
  }

  /** The sources only, so a Secrets that ends up in a log line or JSON shows no value. */
  toJSON(): Record<string, SecretSource> {
    const out: Record<string, SecretSource> = {};
    for (const [name, { source }] of this.#current) out[name] = source;
    return out;
  }

  [inspect.custom](): string {
    return `Secrets ${JSON.stringify(this.toJSON())}`;
  }

  async #reload(): Promise<void> {
    if (this.#closed) throw new SecretError('the secrets were closed; reload() is no longer possible');
    let next: Map<string, Resolved>;
    try {
      next = await this.#load(false);
    } catch (error) {
      const message = error instanceof SecretError ? error.message : `unexpected error: ${this.redact(String(error))}`;
      this.#log.warn({ reason: message }, 'reloading secrets failed; keeping the previous values');
      throw error instanceof SecretError ? error : new SecretError(message);
    }
    const changed: string[] = [];
    for (const name of this.#names) {
      if (this.#current.get(name)?.value !== next.get(name)?.value) changed.push(name);
    }
    this.#current = next;
    this.#log.info({ changed }, 'secrets reloaded');
    if (changed.length === 0) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener(changed);
      } catch (error) {
        this.#log.error({ reason: this.redact(errorText(error)) }, 'a secrets change listener threw');
      }
    }
  }

  /** Resolves every declared name; throws one SecretError listing every problem. */
  async #load(initial: boolean): Promise<Map<string, Resolved>> {
    const problems: string[] = [];
    const local = new Map<string, Resolved>();
    for (const name of this.#names) {
      try {
        const resolved = await this.#resolveLocal(name);
        if (resolved !== undefined) local.set(name, resolved);
      } catch (error) {
        problems.push(this.#problem(error));
      }
    }

    let fields: Readonly<Record<string, unknown>> | undefined;
    if (this.#vaultConfig !== undefined) {
      let credentials: VaultCredentials | undefined;
      try {
        credentials = await this.#vaultCredentials();
      } catch (error) {
        problems.push(this.#problem(error));
      }
      if (credentials !== undefined) {
        try {
          if (initial || this.#vault === undefined) {
            this.#vault = new VaultClient(this.#vaultConfig, credentials, this.#log, (text) => this.redact(text));
            await this.#vault.start();
          } else {
            await this.#vault.refresh(credentials);
          }
          fields = await this.#vault.readSecret();
        } catch (error) {
          problems.push(this.#problem(error));
        }
      }
    }

    const next = new Map<string, Resolved>();
    for (const name of this.#names) {
      const resolved = local.get(name);
      if (resolved !== undefined) {
        next.set(name, resolved);
        continue;
      }
      if (fields === undefined || this.#vaultConfig === undefined) continue;
      try {
        const value = vaultField(name, fields, this.#vaultConfig);
        if (value !== undefined) next.set(name, { value, source: 'vault' });
      } catch (error) {
        problems.push(this.#problem(error));
      }
    }

    if (problems.length === 1) throw new SecretError(problems[0]);
    if (problems.length > 1) throw new SecretError(`${problems.length} secret problems: ${problems.join('; ')}`);
    return next;
  }

  #problem(error: unknown): string {
    return error instanceof SecretError ? error.message : `unexpected error: ${this.redact(errorText(error))}`;
  }

  /** NAME, else the file named by NAME_FILE, else undefined. An empty variable counts as unset. */
  async #resolveLocal(name: string): Promise<Resolved | undefined> {
    const fromEnv = nonEmpty(this.#env[name]);
    const fileVariable = `${name}_FILE`;
    const path = nonEmpty(this.#env[fileVariable]);
    if (fromEnv !== undefined) {
      if (path !== undefined) {
        this.#log.warn(
          { variable: name, ignored: fileVariable },
          `${name} and ${fileVariable} are both set; using ${name} and ignoring ${fileVariable}`,
        );
      }
      return { value: fromEnv, source: 'env' };
    }
    if (path === undefined) return undefined;
    return { value: await readSecretFile(fileVariable, path), source: 'file' };
  }

  async #vaultCredentials(): Promise<VaultCredentials> {
    const [token, roleId, secretId] = await Promise.all([
      this.#resolveLocal('MANTIS_VAULT_TOKEN'),
      this.#resolveLocal('MANTIS_VAULT_ROLE_ID'),
      this.#resolveLocal('MANTIS_VAULT_SECRET_ID'),
    ]);
    if (roleId !== undefined && secretId === undefined) {
      throw new SecretError('MANTIS_VAULT_ROLE_ID is set without MANTIS_VAULT_SECRET_ID (or MANTIS_VAULT_SECRET_ID_FILE)');
    }
    if (secretId !== undefined && roleId === undefined) {
      throw new SecretError('MANTIS_VAULT_SECRET_ID is set without MANTIS_VAULT_ROLE_ID');
    }
    if (token === undefined && roleId === undefined) {
      throw new SecretError(
        'MANTIS_VAULT_ADDR is set but there are no Vault credentials: set MANTIS_VAULT_TOKEN (or MANTIS_VAULT_TOKEN_FILE), ' +
          'or MANTIS_VAULT_ROLE_ID and MANTIS_VAULT_SECRET_ID (or MANTIS_VAULT_SECRET_ID_FILE)',
      );
    }
    return {
      token:
        token === undefined
          ? undefined
          : { value: token.value, variable: token.source === 'file' ? 'MANTIS_VAULT_TOKEN_FILE' : 'MANTIS_VAULT_TOKEN' },
      appRole: roleId !== undefined && secretId !== undefined ? { roleId: roleId.value, secretId: secretId.value } : undefined,
    };
  }
}

// ---------------------------------------------------------------- files

/** Reads a secret file: a regular file of at most 64 KiB, UTF-8, one trailing newline stripped, not empty. */
async function readSecretFile(variable: string, path: string): Promise<string> {
  const where = `${variable} names ${path}`;
  let handle;
  try {
    // O_NONBLOCK: a FIFO given by mistake must not hang the open.
    handle = await openFile(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw new SecretError(`${where}, which cannot be opened: ${fsReason(error)}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new SecretError(`${where}, which is not a regular file`);
    const buffer = Buffer.alloc(SECRET_FILE_BYTES_MAX + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > SECRET_FILE_BYTES_MAX) {
      throw new SecretError(`${where}, which is larger than ${SECRET_FILE_BYTES_MAX} bytes: is it the right file?`);
    }
    let text = buffer.toString('utf8', 0, length);
    if (text.endsWith('\r\n')) text = text.slice(0, -2);
    else if (text.endsWith('\n')) text = text.slice(0, -1);
    if (text === '') throw new SecretError(`${where}, which is empty`);
    return text;
  } catch (error) {
    if (error instanceof SecretError) throw error;
    throw new SecretError(`${where}, which cannot be read: ${fsReason(error)}`);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function fsReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file (ENOENT)';
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${code})`;
    case 'EISDIR':
      return 'it is a directory (EISDIR)';
    case 'ENOTDIR':
      return 'a part of the path is not a directory (ENOTDIR)';
    default:
      return typeof code === 'string' ? code : errorText(error);
  }
}

// ---------------------------------------------------------------- Vault

type VaultConfig = {
  /** Base URL without a trailing slash. */
  readonly addr: string;
  readonly mount: string;
  readonly path: string;
  readonly namespace: string | undefined;
  readonly appRoleMount: string;
};

type VaultCredentials = {
  readonly token: { readonly value: string; readonly variable: string } | undefined;
  readonly appRole: { readonly roleId: string; readonly secretId: string } | undefined;
};

type VaultToken = {
  readonly value: string;
  readonly origin: 'static' | 'approle';
  readonly renewable: boolean;
  /** The lease last granted, ms; 0 = the token never expires. */
  readonly leaseMs: number;
  /** Date.now() at which the lease ends; Infinity when it never does. */
  readonly expiresAt: number;
};

/** Vault answered with an error status. */
class VaultError extends SecretError {
  constructor(
    message: string,
    readonly status: number,
    /** The parsed body, for callers that look closer (a deleted KV version answers 404 with metadata). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

function vaultConfigFrom(env: NodeJS.ProcessEnv, log: Logger): VaultConfig | undefined {
  const rawAddr = nonEmpty(env.MANTIS_VAULT_ADDR);
  if (rawAddr === undefined) {
    const stray = Object.keys(env).filter((key) => key.startsWith('MANTIS_VAULT_') && nonEmpty(env[key]) !== undefined);
    if (stray.length > 0) {
      log.warn({ variables: stray }, `${stray.join(', ')} set but MANTIS_VAULT_ADDR is not; Vault is not used`);
    }
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(rawAddr);
  } catch {
    throw new SecretError('MANTIS_VAULT_ADDR is not a URL (expected e.g. http://127.0.0.1:8200)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SecretError(`MANTIS_VAULT_ADDR must be an http:// or https:// URL, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new SecretError('MANTIS_VAULT_ADDR must not carry credentials; use MANTIS_VAULT_TOKEN or AppRole');
  }
  if (url.search !== '' || url.hash !== '') throw new SecretError('MANTIS_VAULT_ADDR must not have a query or fragment');
  return {
    addr: url.href.replace(/\/+$/, ''),
    mount: vaultPathSetting(env, 'MANTIS_VAULT_MOUNT', 'secret'),
    path: vaultPathSetting(env, 'MANTIS_VAULT_PATH', 'mantisdb'),
    namespace: nonEmpty(env.MANTIS_VAULT_NAMESPACE),
    appRoleMount: vaultPathSetting(env, 'MANTIS_VAULT_APPROLE_MOUNT', 'approle'),
  };
}

/** A mount or path setting: slashes trimmed, each segment percent-encoded. */
function vaultPathSetting(env: NodeJS.ProcessEnv, variable: string, fallback: string): string {
  const raw = nonEmpty(env[variable]) ?? fallback;
  const segments = raw.split('/').filter((segment) => segment !== '');
  if (segments.length === 0 || segments.some((segment) => segment === '.' || segment === '..')) {
    throw new SecretError(`${variable} is not a usable Vault path`);
  }
  return segments.map((segment) => encodeURIComponent(segment)).join('/');
}

/** The KV field for a secret name: `admin_password` for MANTIS_ADMIN_PASSWORD, else the exact name. */
function vaultField(name: string, fields: Readonly<Record<string, unknown>>, config: VaultConfig): string | undefined {
  const short = (name.startsWith('MANTIS_') ? name.slice('MANTIS_'.length) : name).toLowerCase();
  for (const field of short === name ? [name] : [short, name]) {
    if (!Object.hasOwn(fields, field)) continue;
    const value = fields[field];
    if (value === null || value === '') continue;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new SecretError(
      `Vault field "${field}" of ${config.mount}/${config.path} (for ${name}) is ${Array.isArray(value) ? 'an array' : 'an object'}, not a string`,
    );
  }
  return undefined;
}

/** The Vault client: authentication, token renewal and the KV v2 read. */
class VaultClient {
  readonly #config: VaultConfig;
  readonly #log: Logger;
  readonly #redact: (text: string) => string;
  #credentials: VaultCredentials;
  #token: VaultToken | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loginInFlight: Promise<void> | undefined;
  #reloginFailures = 0;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(config: VaultConfig, credentials: VaultCredentials, log: Logger, redact: (text: string) => string) {
    this.#config = config;
    this.#credentials = credentials;
    this.#log = log;
    this.#redact = redact;
  }

  /** Authenticates: the configured token (looked up once), else an AppRole login. Arms renewal. */
  async start(): Promise<void> {
    const token = this.#credentials.token;
    if (token !== undefined) await this.#adoptStaticToken(token);
    else await this.#login();
  }

  /** On reload: takes the re-read credentials; a changed token is looked up and used from now on. */
  async refresh(credentials: VaultCredentials): Promise<void> {
    const previous = this.#credentials;
    this.#credentials = credentials;
    const token = credentials.token;
    if (token === undefined || token.value === previous.token?.value) return;
    try {
      await this.#adoptStaticToken(token);
      this.#log.info({ variable: token.variable }, `the Vault token from ${token.variable} changed; using the new one`);
    } catch (error) {
      this.#credentials = previous;
      throw error;
    }
  }

  /** The fields of the KV v2 secret. */
  async readSecret(): Promise<Readonly<Record<string, unknown>>> {
    const { mount, path } = this.#config;
    const route = `/v1/${mount}/data/${path}`;
    let answer: Record<string, unknown>;
    try {
      answer = await this.#authorized('GET', route);
    } catch (error) {
      if (error instanceof VaultError && error.status === 404) {
        const body = error.body;
        const metadata = isRecord(body) && isRecord(body.data) ? body.data.metadata : undefined;
        const deleted = isRecord(metadata) && typeof metadata.deletion_time === 'string' && metadata.deletion_time !== '';
        throw new VaultError(
          deleted
            ? `the current version of the Vault secret ${mount}/${path} is deleted (GET ${route} answered 404)`
            : `there is no Vault secret ${mount}/${path} (GET ${route} answered 404): check MANTIS_VAULT_MOUNT and MANTIS_VAULT_PATH`,
          404,
        );
      }
      throw error;
    }
    const data = answer.data;
    if (!isRecord(data) || !('data' in data)) {
      throw new SecretError(`Vault's answer to GET ${route} has no data.data: is ${mount} a KV version 2 mount?`);
    }
    if (data.data === null) {
      throw new SecretError(`the current version of the Vault secret ${mount}/${path} is deleted (GET ${route})`);
    }
    if (!isRecord(data.data)) throw new SecretError(`Vault's answer to GET ${route} has a data.data that is not an object`);
    return data.data;
  }

  /** The token in use and the AppRole secret ID (and role ID), for redaction. */
  credentialValues(): string[] {
    const out: string[] = [];
    if (this.#token !== undefined) out.push(this.#token.value);
    if (this.#credentials.token !== undefined) out.push(this.#credentials.token.value);
    if (this.#credentials.appRole !== undefined) out.push(this.#credentials.appRole.secretId, this.#credentials.appRole.roleId);
    return out;
  }

  close(): void {
    this.#closed = true;
    this.#clearTimer();
    this.#abort.abort();
  }

  #canLogin(): boolean {
    return this.#credentials.appRole !== undefined;
  }

  async #adoptStaticToken(token: { readonly value: string; readonly variable: string }): Promise<void> {
    const route = '/v1/auth/token/lookup-self';
    let answer: Record<string, unknown>;
    try {
      answer = await this.#call('GET', route, token.value);
    } catch (error) {
      if (error instanceof VaultError && error.status === 403 && this.#canLogin()) {
        this.#log.warn(
          { variable: token.variable, route, status: error.status },
          `Vault refused the token from ${token.variable}; logging in with AppRole instead`,
        );
        await this.#login();
        return;
      }
      if (error instanceof VaultError && error.status === 403) {
        throw new VaultError(`the Vault token from ${token.variable} was refused: ${error.message}`, error.status);
      }
      throw error;
    }
    const data = answer.data;
    const ttl = isRecord(data) ? data.ttl : undefined;
    if (!isRecord(data) || typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) {
      throw new SecretError(`Vault's answer to GET ${route} has no data.ttl`);
    }
    const renewable = data.renewable === true;
    if (this.#closed) return;
    this.#token = {
      value: token.value,
      origin: 'static',
      renewable,
      leaseMs: ttl * 1000,
      expiresAt: ttl > 0 ? Date.now() + ttl * 1000 : Infinity,
    };
    this.#log.debug({ variable: token.variable, ttlSeconds: ttl, renewable }, 'using the configured Vault token');
    if (ttl > 0 && !renewable && !this.#canLogin()) {
      this.#log.warn(
        { variable: token.variable, ttlSeconds: ttl },
        `the Vault token from ${token.variable} is not renewable and expires in ${ttl} s; ` +
          'after that reloads fail until a new token is configured',
      );
    }
    this.#schedule();
  }

  /** AppRole login; concurrent callers share one request. */
  #login(): Promise<void> {
    this.#loginInFlight ??= this.#doLogin().finally(() => {
      this.#loginInFlight = undefined;
    });
    return this.#loginInFlight;
  }

  async #doLogin(): Promise<void> {
    const appRole = this.#credentials.appRole;
    if (appRole === undefined) throw new SecretError('no AppRole credentials to log in to Vault with');
    const route = `/v1/auth/${this.#config.appRoleMount}/login`;
    const answer = await this.#call('POST', route, undefined, { role_id: appRole.roleId, secret_id: appRole.secretId });
    const auth = parseAuth(answer, `POST ${route}`);
    if (auth.token === undefined) throw new SecretError(`Vault's answer to POST ${route} has no auth.client_token`);
    if (this.#closed) return;
    this.#token = {
      value: auth.token,
      origin: 'approle',
      renewable: auth.renewable,
      leaseMs: auth.leaseSeconds * 1000,
      expiresAt: auth.leaseSeconds > 0 ? Date.now() + auth.leaseSeconds * 1000 : Infinity,
    };
    this.#reloginFailures = 0;
    this.#log.info({ route, leaseSeconds: auth.leaseSeconds, renewable: auth.renewable }, 'logged in to Vault with AppRole');
    this.#schedule();
  }

  /** Arms the timer for the current token: renew at 2/3 of the lease, or log in again when it cannot be renewed. */
  #schedule(): void {
    this.#clearTimer();
    const token = this.#token;
    if (token === undefined || token.leaseMs <= 0) return;
    const delay = (token.leaseMs * 2) / 3;
    if (token.renewable) this.#arm(delay, () => this.#renew());
    else if (this.#canLogin()) this.#arm(delay, () => this.#relogin());
  }

  async #renew(): Promise<void> {
    const token = this.#token;
    if (token === undefined || this.#closed) return;
    const route = '/v1/auth/token/renew-self';
    try {
      const answer = await this.#call('POST', route, token.value, {});
      const auth = parseAuth(answer, `POST ${route}`);
      if (this.#token !== token || this.#closed) return; // superseded meanwhile
      const leaseMs = auth.leaseSeconds * 1000;
      this.#token = {
        ...token,
        renewable: auth.renewable,
        leaseMs,
        expiresAt: leaseMs > 0 ? Date.now() + leaseMs : Infinity,
      };
      this.#log.debug({ route, leaseSeconds: auth.leaseSeconds }, 'renewed the Vault token');
      // A shorter lease than before means the token reached its maximum TTL:
      // with AppRole, get a fresh token before this one runs out.
      if (leaseMs > 0 && leaseMs < token.leaseMs && this.#canLogin()) {
        this.#clearTimer();
        this.#arm((leaseMs * 2) / 3, () => this.#relogin());
      } else {
        this.#schedule();
      }
    } catch (error) {
      if (this.#token !== token || this.#closed) return;
      const reason = this.#reason(error);
      if (this.#canLogin()) {
        this.#log.warn({ route, reason }, 'renewing the Vault token failed; logging in again with AppRole');
        await this.#relogin();
        return;
      }
      const remainingMs = token.expiresAt - Date.now();
      if (remainingMs > 1000) {
        this.#log.warn({ route, reason, remainingSeconds: Math.floor(remainingMs / 1000) }, 'renewing the Vault token failed; will retry');
        this.#arm(Math.max(1000, remainingMs / 3), () => this.#renew());
      } else {
        this.#log.error(
          { route, reason },
          'renewing the Vault token failed and it has expired; reloads fail until a new token is configured',
        );
      }
    }
  }

  /** A login from a timer: a failure is logged and retried with backoff, never thrown. */
  async #relogin(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#login();
    } catch (error) {
      if (this.#closed) return;
      this.#reloginFailures += 1;
      const delay = Math.min(RELOGIN_BACKOFF_MS_MAX, 1000 * 2 ** (this.#reloginFailures - 1));
      this.#log.warn(
        { reason: this.#reason(error), retryInMs: delay },
        'logging in to Vault with AppRole failed; will retry',
      );
      this.#arm(delay, () => this.#relogin());
    }
  }

  #arm(delayMs: number, action: () => Promise<void>): void {
    if (this.#closed) return;
    this.#clearTimer();
    const timer = setTimeout(
      () => {
        if (this.#timer === timer) this.#timer = undefined;
        void action();
      },
      Math.min(TIMER_MS_MAX, Math.max(1, Math.floor(delayMs))),
    );
    timer.unref();
    this.#timer = timer;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A request with the current token; a 403 with AppRole credentials logs in again and retries once. */
  async #authorized(method: 'GET' | 'POST', route: string): Promise<Record<string, unknown>> {
    const token = this.#token;
    if (token === undefined) throw new SecretError(`not authenticated to Vault for ${method} ${route}`);
    try {
      return await this.#call(method, route, token.value);
    } catch (error) {
      if (!(error instanceof VaultError && error.status === 403 && this.#canLogin())) throw error;
      this.#log.warn({ route, status: error.status }, 'Vault refused the token; logging in again with AppRole');
      await this.#login();
      const fresh = this.#token;
      if (fresh === undefined) throw error;
      return await this.#call(method, route, fresh.value);
    }
  }

  /** One Vault request; answers the parsed JSON object, throws a SecretError (VaultError for an error status). */
  async #call(method: 'GET' | 'POST', route: string, token: string | undefined, body?: unknown): Promise<Record<string, unknown>> {
    const where = `${method} ${route}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers['X-Vault-Token'] = token;
    if (this.#config.namespace !== undefined) headers['X-Vault-Namespace'] = this.#config.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.#config.addr + route, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([AbortSignal.timeout(VAULT_TIMEOUT_MS), this.#abort.signal]),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw new SecretError(`Vault at ${this.#config.addr} did not answer ${where}: ${this.#transportReason(error)}`);
    }
    let parsed: unknown;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (status < 200 || status > 299) {
      const errors =
        isRecord(parsed) && Array.isArray(parsed.errors)
          ? parsed.errors.filter((item): item is string => typeof item === 'string')
          : [];
      let detail = errors.length > 0 ? errors.join('; ') : status === 404 ? 'nothing there' : 'no error text';
      detail = this.#redact(detail);
      if (detail.length > 300) detail = `${detail.slice(0, 300)}…`;
      throw new VaultError(`Vault answered ${status} to ${where}: ${detail}`, status, parsed);
    }
    if (!isRecord(parsed)) throw new SecretError(`Vault answered ${status} to ${where} with a body that is not a JSON object`);
    return parsed;
  }

  #transportReason(error: unknown): string {
    if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${VAULT_TIMEOUT_MS} ms`;
    if (error instanceof Error && error.name === 'AbortError') return 'abandoned: the secrets were closed';
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof Error) return this.#redact(cause.message);
    return this.#redact(errorText(error));
  }

  #reason(error: unknown): string {
    return error instanceof SecretError ? error.message : this.#redact(errorText(error));
  }
}

function parseAuth(answer: Record<string, unknown>, where: string): { token: string | undefined; leaseSeconds: number; renewable: boolean } {
  const auth = answer.auth;
  if (!isRecord(auth)) throw new SecretError(`Vault's answer to ${where} has no auth object`);
  const lease = auth.lease_duration;
  if (typeof lease !== 'number' || !Number.isFinite(lease) || lease < 0) {
    throw new SecretError(`Vault's answer to ${where} has no auth.lease_duration`);
  }
  const token = typeof auth.client_token === 'string' && auth.client_token !== '' ? auth.client_token : undefined;
  return { token, leaseSeconds: lease, renewable: auth.renewable === true };
}

// ---------------------------------------------------------------- helpers

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
