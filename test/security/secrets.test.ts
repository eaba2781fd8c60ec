// src/security/secrets.ts: env, *_FILE and Vault KV v2 sources against a real
// local HTTP server (test/helpers/vault-server.ts), token renewal, AppRole
// re-login, reload(), redaction — and that no secret value ever reaches the
// logger or an error message (checked after every test).

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretError, Secrets } from '../../src/security/secrets.js';
import { FakeVault } from '../helpers/vault-server.js';

const NAMES = ['MANTIS_ADMIN_PASSWORD', 'MANTIS_JWT_SECRET', 'MANTIS_BACKUP_KEY', 'MANTIS_OAUTH_GITHUB_CLIENT_SECRET'] as const;

let dir: string;
let vault: FakeVault;
let logLines: string[] = [];
let errorMessages: string[] = [];
let opened: Secrets[] = [];
/** Every secret value made by this file; none may appear in a log line or an error message. */
const made = new Set<string>();

function secret(label: string): string {
  const value = `${label}-${randomBytes(9).toString('hex')}`;
  made.add(value);
  return value;
}

const log = pino({ level: 'trace' }, { write: (line: string) => void logLines.push(line) });
const logText = (): string => logLines.join('');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 6000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function open(env: NodeJS.ProcessEnv, names: readonly string[] = NAMES): Promise<Secrets> {
  const secrets = await Secrets.open({ env, log, names });
  opened.push(secrets);
  return secrets;
}

async function openError(env: NodeJS.ProcessEnv, names: readonly string[] = NAMES): Promise<SecretError> {
  try {
    opened.push(await Secrets.open({ env, log, names }));
  } catch (error) {
    expect(error).toBeInstanceOf(SecretError);
    errorMessages.push((error as SecretError).message);
    return error as SecretError;
  }
  throw new Error('Secrets.open resolved; a SecretError was expected');
}

async function reloadError(secrets: Secrets): Promise<SecretError> {
  try {
    await secrets.reload();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretError);
    errorMessages.push((error as SecretError).message);
    return error as SecretError;
  }
  throw new Error('reload() resolved; a SecretError was expected');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mantis-secrets-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  logLines = [];
  errorMessages = [];
  opened = [];
  vault = await FakeVault.start();
});

afterEach(async () => {
  for (const secrets of opened) secrets.close();
  await vault.close();
  // No secret value, Vault token, role ID or secret ID in anything logged or thrown.
  const seen = logText() + '\n' + errorMessages.join('\n');
  for (const value of [...made, ...vault.credentials()]) {
    expect(seen.includes(value), `a secret value (${value.slice(0, 4)}…) leaked into the logs or an error`).toBe(false);
  }
});

describe('environment variables and files', () => {
  it('reads a secret from its environment variable; an empty one counts as unset', async () => {
    const jwt = secret('jwt');
    const secrets = await open({ MANTIS_JWT_SECRET: jwt, MANTIS_BACKUP_KEY: '' });
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(jwt);
    expect(secrets.source('MANTIS_JWT_SECRET')).toBe('env');
    expect(secrets.get('MANTIS_BACKUP_KEY')).toBeUndefined();
    expect(secrets.source('MANTIS_BACKUP_KEY')).toBeUndefined();
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBeUndefined();
    expect(secrets.get('NOT_DECLARED')).toBeUndefined();
  });

  it('reads NAME_FILE and strips exactly one trailing newline (\\n or \\r\\n)', async () => {
    const [a, b, c, d] = [secret('lf'), secret('crlf'), secret('two'), secret('none')];
    const secrets = await open({
      MANTIS_ADMIN_PASSWORD_FILE: file('admin', `${a}\n`),
      MANTIS_JWT_SECRET_FILE: file('jwt', `${b}\r\n`),
      MANTIS_BACKUP_KEY_FILE: file('backup', `${c}\n\n`),
      MANTIS_OAUTH_GITHUB_CLIENT_SECRET_FILE: file('oauth', d),
    });
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(a);
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(b);
    expect(secrets.get('MANTIS_BACKUP_KEY')).toBe(`${c}\n`);
    expect(secrets.get('MANTIS_OAUTH_GITHUB_CLIENT_SECRET')).toBe(d);
    for (const name of NAMES) expect(secrets.source(name)).toBe('file');
  });

  it('NAME wins over NAME_FILE, with a warning that names the variables only', async () => {
    const fromEnv = secret('env');
    const fromFile = secret('file');
    const secrets = await open({ MANTIS_JWT_SECRET: fromEnv, MANTIS_JWT_SECRET_FILE: file('jwt-both', fromFile) });
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(fromEnv);
    expect(secrets.source('MANTIS_JWT_SECRET')).toBe('env');
    const warnings = logLines.map((line) => JSON.parse(line) as { level: number; msg: string; variable?: string }).filter((entry) => entry.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].variable).toBe('MANTIS_JWT_SECRET');
    expect(warnings[0].msg).toContain('MANTIS_JWT_SECRET_FILE');
  });

  it('a missing, empty or directory _FILE is a SecretError naming the variable and the path', async () => {
    const missing = join(dir, 'does-not-exist');
    const error = await openError({ MANTIS_BACKUP_KEY_FILE: missing });
    expect(error.message).toContain('MANTIS_BACKUP_KEY_FILE');
    expect(error.message).toContain(missing);
    expect(error.message).toContain('ENOENT');

    const empty = file('empty', '\n');
    expect((await openError({ MANTIS_JWT_SECRET_FILE: empty })).message).toBe(`MANTIS_JWT_SECRET_FILE names ${empty}, which is empty`);

    const folder = join(dir, 'a-directory');
    mkdirSync(folder, { recursive: true });
    expect((await openError({ MANTIS_JWT_SECRET_FILE: folder })).message).toContain('not a regular file');

    // Every problem is reported at once, and a good secret beside them stays unread out of the message.
    const good = secret('good');
    const both = await openError({ MANTIS_ADMIN_PASSWORD: good, MANTIS_BACKUP_KEY_FILE: missing, MANTIS_JWT_SECRET_FILE: empty });
    expect(both.message).toMatch(/^2 secret problems: /);
    expect(both.message).toContain('MANTIS_BACKUP_KEY_FILE');
    expect(both.message).toContain('MANTIS_JWT_SECRET_FILE');
  });

  it('refuses a name that cannot be an environment variable', async () => {
    expect((await openError({}, ['MANTIS-JWT'])).message).toContain('"MANTIS-JWT" is not a valid secret name');
  });
});

describe('Vault', () => {
  it('token auth: reads the KV v2 secret; env and files take precedence; short and exact field names', async () => {
    const [admin, jwtVault, jwtEnv, backup, oauthFile] = [secret('admin'), secret('jwt-v'), secret('jwt-e'), secret('backup'), secret('oauth')];
    vault.putSecret('secret', 'mantisdb', {
      admin_password: admin,
      jwt_secret: jwtVault,
      MANTIS_BACKUP_KEY: backup,
      oauth_github_client_secret: secret('oauth-vault'),
      unrelated: 'x',
    });
    const token = vault.issueToken(); // a root-like token: no TTL
    const secrets = await open({
      MANTIS_VAULT_ADDR: `${vault.url}/`,
      MANTIS_VAULT_TOKEN: token,
      MANTIS_JWT_SECRET: jwtEnv,
      MANTIS_OAUTH_GITHUB_CLIENT_SECRET_FILE: file('oauth-file', `${oauthFile}\n`),
    });
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin);
    expect(secrets.source('MANTIS_ADMIN_PASSWORD')).toBe('vault');
    expect(secrets.get('MANTIS_BACKUP_KEY')).toBe(backup);
    expect(secrets.source('MANTIS_BACKUP_KEY')).toBe('vault');
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(jwtEnv);
    expect(secrets.source('MANTIS_JWT_SECRET')).toBe('env');
    expect(secrets.get('MANTIS_OAUTH_GITHUB_CLIENT_SECRET')).toBe(oauthFile);
    expect(secrets.source('MANTIS_OAUTH_GITHUB_CLIENT_SECRET')).toBe('file');
    expect(vault.counts).toMatchObject({ lookups: 1, reads: 1, logins: 0, denied: 0 });
    expect(vault.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v1/auth/token/lookup-self',
      'GET /v1/secret/data/mantisdb',
    ]);
    expect(vault.requests.every((r) => r.hasToken && r.namespace === undefined)).toBe(true);
  });

  it('uses MANTIS_VAULT_MOUNT, MANTIS_VAULT_PATH and sends MANTIS_VAULT_NAMESPACE as X-Vault-Namespace', async () => {
    const admin = secret('admin');
    vault.putSecret('kv', 'apps/mantis', { admin_password: admin });
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_TOKEN_FILE: file('token', `${vault.issueToken()}\n`),
      MANTIS_VAULT_MOUNT: 'kv',
      MANTIS_VAULT_PATH: '/apps/mantis/',
      MANTIS_VAULT_NAMESPACE: 'team-a',
    });
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin);
    expect(vault.requests.map((r) => r.path)).toContain('/v1/kv/data/apps/mantis');
    expect(vault.requests.every((r) => r.namespace === 'team-a')).toBe(true);
  });

  it('AppRole: logs in with the role ID and the secret ID from a file, then reads with the issued token', async () => {
    const admin = secret('admin');
    vault.putSecret('secret', 'mantisdb', { admin_password: admin });
    vault.appRole.mount = 'approle-mantis';
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID_FILE: file('secret-id', `${vault.appRole.secretId}\n`),
      MANTIS_VAULT_APPROLE_MOUNT: 'approle-mantis',
    });
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin);
    expect(vault.counts).toMatchObject({ logins: 1, lookups: 0, reads: 1, denied: 0 });
    expect(vault.requests[0]).toMatchObject({ method: 'POST', path: '/v1/auth/approle-mantis/login', hasToken: false });
    expect(logText()).toContain('logged in to Vault with AppRole');
  });

  it('renews a renewable AppRole token at 2/3 of its lease, so it outlives the first lease', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    vault.appRole.ttlSeconds = 1;
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: vault.appRole.secretId,
    });
    const started = Date.now();
    await waitFor(() => vault.counts.renewals >= 3, 'three renewals');
    // Three renewals of a 1 s lease at ~667 ms each: not much sooner (not a busy loop), and the token is past its first lease.
    expect(Date.now() - started).toBeGreaterThan(1500);
    await secrets.reload();
    expect(vault.counts).toMatchObject({ logins: 1, denied: 0, failedRenewals: 0 });
  });

  it('looks a static token up once and renews it when it is renewable', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    const token = vault.issueToken({ ttlSeconds: 2, renewable: true });
    await open({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: token });
    const firstExpiry = vault.tokens.get(token)?.expiresAt ?? 0;
    await waitFor(() => vault.counts.renewals >= 2, 'two renewals');
    expect(vault.tokens.get(token)?.expiresAt ?? 0).toBeGreaterThan(firstExpiry);
    expect(vault.counts.lookups).toBe(1);
  });

  it('does not renew a static token without a TTL, nor one that is not renewable', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    await open({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: vault.issueToken() });
    await open({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: vault.issueToken({ ttlSeconds: 2, renewable: false }) });
    expect(logText()).toContain('is not renewable and expires in');
    await sleep(1500); // past 2/3 of the 2 s lease
    expect(vault.counts.renewals + vault.counts.failedRenewals).toBe(0);
  });

  it('logs in again with AppRole when renewal fails', async () => {
    const first = secret('admin-1');
    vault.putSecret('secret', 'mantisdb', { admin_password: first });
    vault.appRole.ttlSeconds = 1;
    vault.failRenewals = true;
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: vault.appRole.secretId,
    });
    await waitFor(() => vault.counts.logins >= 3, 'two re-logins');
    expect(vault.counts.failedRenewals).toBeGreaterThanOrEqual(2);
    expect(logText()).toContain('renewing the Vault token failed; logging in again with AppRole');
    // The fresh token works.
    const second = secret('admin-2');
    vault.putSecret('secret', 'mantisdb', { admin_password: second });
    await secrets.reload();
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(second);
  });

  it('a static token whose renewal fails falls back to AppRole when its credentials are set', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    vault.failRenewals = true;
    await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_TOKEN: vault.issueToken({ ttlSeconds: 2, renewable: true }),
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: vault.appRole.secretId,
    });
    expect(vault.counts.logins).toBe(0);
    await waitFor(() => vault.counts.logins >= 1, 'an AppRole login');
    expect(vault.counts.failedRenewals).toBe(1);
  });

  it('a refused token is a SecretError naming the route and status; with AppRole it falls back to a login', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    const revoked = vault.issueToken();
    vault.tokens.get(revoked)!.revoked = true;
    const error = await openError({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: revoked });
    expect(error.message).toBe(
      'the Vault token from MANTIS_VAULT_TOKEN was refused: Vault answered 403 to GET /v1/auth/token/lookup-self: permission denied',
    );

    // A token that may not read the secret.
    const noRead = await openError({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: vault.issueToken({ canRead: false }) });
    expect(noRead.message).toBe('Vault answered 403 to GET /v1/secret/data/mantisdb: permission denied');

    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_TOKEN: revoked,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: vault.appRole.secretId,
    });
    expect(secrets.source('MANTIS_ADMIN_PASSWORD')).toBe('vault');
    expect(vault.counts.logins).toBe(1);

    vault.appRole.secretId = `sid-${randomBytes(12).toString('hex')}`; // rotated on the server: the old one fails
    const badLogin = await openError({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: `sid-${randomBytes(12).toString('hex')}`,
    });
    expect(badLogin.message).toBe('Vault answered 400 to POST /v1/auth/approle/login: invalid role or secret ID');
  });

  it('an unreachable Vault at start is a SecretError naming the address and route', async () => {
    const port = await closedPort();
    const error = await openError({ MANTIS_VAULT_ADDR: `http://127.0.0.1:${port}`, MANTIS_VAULT_TOKEN: vault.issueToken() });
    expect(error.message).toContain(`Vault at http://127.0.0.1:${port} did not answer GET /v1/auth/token/lookup-self`);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('a missing or deleted secret, or a field that is not a string, is a SecretError', async () => {
    const env = { MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: vault.issueToken() };
    expect((await openError(env)).message).toContain('there is no Vault secret secret/mantisdb (GET /v1/secret/data/mantisdb answered 404)');
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    vault.deleteSecret('secret', 'mantisdb');
    expect((await openError(env)).message).toContain('the current version of the Vault secret secret/mantisdb is deleted');
    vault.putSecret('secret', 'mantisdb', { jwt_secret: { nested: secret('nested') } });
    expect((await openError(env)).message).toBe(
      'Vault field "jwt_secret" of secret/mantisdb (for MANTIS_JWT_SECRET) is an object, not a string',
    );
  });

  it('Vault settings without credentials, or half an AppRole, are SecretErrors', async () => {
    expect((await openError({ MANTIS_VAULT_ADDR: vault.url })).message).toContain('there are no Vault credentials');
    expect((await openError({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_ROLE_ID: vault.appRole.roleId })).message).toContain(
      'MANTIS_VAULT_ROLE_ID is set without MANTIS_VAULT_SECRET_ID',
    );
    expect((await openError({ MANTIS_VAULT_ADDR: 'ftp://vault', MANTIS_VAULT_TOKEN: 't' })).message).toContain('http:// or https://');
    // Vault settings without an address: Vault is not used, with a warning.
    const secrets = await open({ MANTIS_VAULT_TOKEN: vault.issueToken() });
    expect(secrets.values()).toEqual([]);
    expect(logText()).toContain('MANTIS_VAULT_TOKEN set but MANTIS_VAULT_ADDR is not');
    expect(vault.requests).toHaveLength(0);
  });

  it('close() stops the renewal timer', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('admin') });
    vault.appRole.ttlSeconds = 1;
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: vault.appRole.secretId,
    });
    secrets.close();
    await sleep(1200);
    expect(vault.counts.renewals).toBe(0);
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBeDefined();
    await expect(secrets.reload()).rejects.toBeInstanceOf(SecretError);
  });
});

describe('reload()', () => {
  it('picks up a changed Vault value and a changed file; onChange hears exactly those names', async () => {
    const [admin1, admin2, jwt1, jwt2, backup] = [secret('a1'), secret('a2'), secret('j1'), secret('j2'), secret('b')];
    vault.putSecret('secret', 'mantisdb', { admin_password: admin1 });
    const jwtFile = file('jwt-reload', `${jwt1}\n`);
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_TOKEN: vault.issueToken(),
      MANTIS_JWT_SECRET_FILE: jwtFile,
      MANTIS_BACKUP_KEY: backup,
    });
    const heard: (readonly string[])[] = [];
    const unsubscribe = secrets.onChange((names) => heard.push(names));

    await secrets.reload(); // nothing changed
    expect(heard).toEqual([]);

    vault.putSecret('secret', 'mantisdb', { admin_password: admin2 });
    writeFileSync(jwtFile, `${jwt2}\n`);
    await secrets.reload();
    expect(heard).toEqual([['MANTIS_ADMIN_PASSWORD', 'MANTIS_JWT_SECRET']]);
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin2);
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(jwt2);
    expect(secrets.get('MANTIS_BACKUP_KEY')).toBe(backup);

    // A field removed from Vault disappears too.
    vault.putSecret('secret', 'mantisdb', {});
    await secrets.reload();
    expect(heard[1]).toEqual(['MANTIS_ADMIN_PASSWORD']);
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBeUndefined();

    unsubscribe();
    vault.putSecret('secret', 'mantisdb', { admin_password: admin1 });
    await secrets.reload();
    expect(heard).toHaveLength(2);
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin1);
  });

  it('a failing source keeps every old value, warns without values and rejects with SecretError', async () => {
    const [admin1, admin2, jwt1, jwt2] = [secret('a1'), secret('a2'), secret('j1'), secret('j2')];
    vault.putSecret('secret', 'mantisdb', { admin_password: admin1 });
    const jwtFile = file('jwt-fail', jwt1);
    const secrets = await open({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: vault.issueToken(), MANTIS_JWT_SECRET_FILE: jwtFile });
    const heard: (readonly string[])[] = [];
    secrets.onChange((names) => heard.push(names));

    // Vault sealed, while the file did change: nothing is applied.
    vault.sealed = true;
    writeFileSync(jwtFile, jwt2);
    const sealed = await reloadError(secrets);
    expect(sealed.message).toBe('Vault answered 503 to GET /v1/secret/data/mantisdb: Vault is sealed');
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin1);
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(jwt1);
    expect(logText()).toContain('reloading secrets failed; keeping the previous values');

    // The file gone, while Vault changed: nothing is applied either.
    vault.sealed = false;
    vault.putSecret('secret', 'mantisdb', { admin_password: admin2 });
    unlinkSync(jwtFile);
    const gone = await reloadError(secrets);
    expect(gone.message).toContain(`MANTIS_JWT_SECRET_FILE names ${jwtFile}, which cannot be opened: no such file (ENOENT)`);
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin1);
    expect(secrets.get('MANTIS_JWT_SECRET')).toBe(jwt1);
    expect(heard).toEqual([]);

    writeFileSync(jwtFile, jwt2);
    await secrets.reload();
    expect(heard).toEqual([['MANTIS_ADMIN_PASSWORD', 'MANTIS_JWT_SECRET']]);
  });

  it('re-reads a rotated token file, and logs in again when the token was revoked', async () => {
    const [admin1, admin2] = [secret('a1'), secret('a2')];
    vault.putSecret('secret', 'mantisdb', { admin_password: admin1 });
    const tokenFile = file('vault-token', vault.issueToken());
    const secrets = await open({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN_FILE: tokenFile });
    vault.revokeAll();
    writeFileSync(tokenFile, `${vault.issueToken()}\n`);
    vault.putSecret('secret', 'mantisdb', { admin_password: admin2 });
    await secrets.reload();
    expect(secrets.get('MANTIS_ADMIN_PASSWORD')).toBe(admin2);
    expect(vault.counts.lookups).toBe(2);
    expect(logText()).toContain('the Vault token from MANTIS_VAULT_TOKEN_FILE changed');

    const approle = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_ROLE_ID: vault.appRole.roleId,
      MANTIS_VAULT_SECRET_ID: vault.appRole.secretId,
    });
    vault.revokeAll();
    await approle.reload();
    expect(approle.get('MANTIS_ADMIN_PASSWORD')).toBe(admin2);
    expect(vault.counts.logins).toBe(2);
  });

  it('a listener that throws is logged (redacted) and the others still hear the change', async () => {
    const [jwt1, jwt2] = [secret('j1'), secret('j2')];
    const jwtFile = file('jwt-listener', jwt1);
    const secrets = await open({ MANTIS_JWT_SECRET_FILE: jwtFile });
    secrets.onChange(() => {
      throw new Error(`bad key ${secrets.get('MANTIS_JWT_SECRET')}`);
    });
    const heard: (readonly string[])[] = [];
    secrets.onChange((names) => heard.push(names));
    writeFileSync(jwtFile, jwt2);
    await secrets.reload();
    expect(heard).toEqual([['MANTIS_JWT_SECRET']]);
    expect(logText()).toContain('bad key ***');
  });

  it('concurrent reloads run one after another', async () => {
    vault.putSecret('secret', 'mantisdb', { admin_password: secret('a') });
    const secrets = await open({ MANTIS_VAULT_ADDR: vault.url, MANTIS_VAULT_TOKEN: vault.issueToken() });
    await Promise.all([secrets.reload(), secrets.reload(), secrets.reload()]);
    expect(vault.counts.reads).toBe(4);
  });
});

describe('redaction', () => {
  it('redact() hides every secret and Vault credential; values(), toJSON and inspect show no value', async () => {
    const admin = secret('admin');
    const jwt = `${admin}-longer`; // contains another secret: replaced whole
    made.add(jwt);
    const quoted = `q"uo\\te-${randomBytes(6).toString('hex')}`;
    made.add(quoted);
    vault.putSecret('secret', 'mantisdb', { admin_password: admin });
    const token = vault.issueToken();
    const secrets = await open({
      MANTIS_VAULT_ADDR: vault.url,
      MANTIS_VAULT_TOKEN: token,
      MANTIS_JWT_SECRET: jwt,
      MANTIS_BACKUP_KEY: quoted,
    });
    expect(new Set(secrets.values())).toEqual(new Set([admin, jwt, quoted, token]));
    expect(secrets.redact(`a=${admin} j=${jwt} t=${token} a=${admin}`)).toBe('a=*** j=*** t=*** a=***');
    expect(secrets.redact(JSON.stringify({ key: quoted }))).toBe('{"key":"***"}');
    expect(secrets.redact('nothing secret here')).toBe('nothing secret here');

    const shown = JSON.stringify(secrets) + inspect(secrets) + JSON.stringify({ secrets });
    for (const value of secrets.values()) expect(shown).not.toContain(value);
    expect(JSON.parse(JSON.stringify(secrets))).toEqual({ MANTIS_ADMIN_PASSWORD: 'vault', MANTIS_JWT_SECRET: 'env', MANTIS_BACKUP_KEY: 'env' });
    // Logging the object itself shows sources only.
    log.info({ secrets }, 'config dump');
    expect(logText()).toContain('"MANTIS_ADMIN_PASSWORD":"vault"');
  });
});
