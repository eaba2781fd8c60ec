// Start-up profiles (src/config.ts PROFILES, src/security/setup.ts): prod
// refuses to start (exit 2, a message on stderr) without the bootstrap admin
// password, with a weak one, or without TLS unless --tls off is explicit;
// --auth on without any user refuses too; dev is open, staging and prod ask
// for credentials; MANTIS_ADMIN_PASSWORD_FILE is read. Under TLS the ready
// line is https://, answers carry HSTS, and SIGHUP swaps the certificate for
// new connections.
//
// server-process.ts's READY_LINE only accepts http://, so the TLS server is
// started with startAnyScheme (test/helpers/auth-http.ts).

import { spawnSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { agentFrom, call, fails, login, ok, sleep, startAnyScheme, stopAnyScheme } from '../helpers/auth-http.js';
import { cleanup, makeDataDir, startExpectingFailure, startServer, type FailedStart } from '../helpers/server-process.js';

const STRONG = `Str0ng-${randomBytes(10).toString('hex')}`;

afterAll(async () => {
  await stopAnyScheme();
  await cleanup();
});

function refusedClearly(failed: FailedStart, pattern: RegExp): void {
  expect({ code: failed.code, signal: failed.signal }, failed.stderr).toEqual({ code: 2, signal: null });
  expect(failed.stderr).toMatch(/^mantisdb: /);
  expect(failed.stderr).toMatch(pattern);
  expect(failed.stdout).not.toMatch(/MantisDB listening/);
}

describe('refusing unsafe configurations (exit 2)', () => {
  it('prod without MANTIS_ADMIN_PASSWORD', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'prod', '--tls', 'off'] });
    refusedClearly(failed, /refusing to start with profile prod: .*MANTIS_ADMIN_PASSWORD/);
  });

  it('prod with a weak admin password (and the password is not echoed)', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'prod', '--tls', 'off'], env: { MANTIS_ADMIN_PASSWORD: 'password123' } });
    // 11 characters: refused as too short before the list of defaults is consulted.
    refusedClearly(failed, /MANTIS_ADMIN_PASSWORD is (too short|a well-known default)/);
    expect(failed.stderr + failed.stdout).not.toContain('password123');
    const known = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'prod', '--tls', 'off'], env: { MANTIS_ADMIN_PASSWORD: 'Password123456' } });
    refusedClearly(known, /MANTIS_ADMIN_PASSWORD is a well-known default/);
    expect(known.stderr + known.stdout).not.toContain('Password123456');
    const short = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'prod', '--tls', 'off'], env: { MANTIS_ADMIN_PASSWORD: 'Ab1!xyz' } });
    refusedClearly(short, /MANTIS_ADMIN_PASSWORD is too short/);
  });

  it('prod without TLS flags', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'prod'], env: { MANTIS_ADMIN_PASSWORD: STRONG } });
    refusedClearly(failed, /TLS is on \(profile prod\) but --tls-cert and --tls-key are not both given/);
    const unreadable = await startExpectingFailure({
      shards: 1,
      extraArgs: ['--profile', 'prod', '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'],
      env: { MANTIS_ADMIN_PASSWORD: STRONG },
    });
    refusedClearly(unreadable, /--tls-cert: cannot read \/nonexistent\/c\.pem/);
  });

  it('prod with --auth off', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'prod', '--tls', 'off', '--auth', 'off'], env: { MANTIS_ADMIN_PASSWORD: STRONG } });
    refusedClearly(failed, /the prod profile needs authentication/);
  });

  it('--auth on with no admin password (no user could ever log in)', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--auth', 'on'] });
    refusedClearly(failed, /authentication is on but no user exists.*MANTIS_ADMIN_PASSWORD/);
  });

  it('staging with a weak JWT signing secret', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'staging'], env: { MANTIS_ADMIN_PASSWORD: STRONG, MANTIS_JWT_SECRET: 'short-secret' } });
    refusedClearly(failed, /MANTIS_JWT_SECRET is too short/);
    expect(failed.stderr).not.toContain('short-secret');
  });

  it('an unknown profile', async () => {
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--profile', 'production'] });
    refusedClearly(failed, /--profile must be dev, staging or prod, got "production"/);
  });
});

describe('what each profile serves', () => {
  it('dev (the default) is open: no credential needed', async () => {
    const server = await startServer({ shards: 1 });
    const put = await call(`${server.url}/api/v1/kv/open-key`, { method: 'PUT', json: { open: true } });
    ok(put);
    const get = await call(`${server.url}/api/v1/kv/open-key`);
    expect(get.status).toBe(200);
    expect(JSON.parse(get.text)).toEqual({ open: true });
    const me = ok<{ kind: string; auth: boolean }>(await call(`${server.url}/api/v1/auth/me`));
    expect(me).toMatchObject({ kind: 'system', auth: false });
    // Nothing to log in to; no rate limits.
    fails(await call(`${server.url}/api/v1/auth/login`, { method: 'POST', json: { username: 'admin', password: 'whatever-1' } }), 400, 'INVALID_PARAMETER');
    const limits = ok<{ rps: number; connections_per_ip: number }>(await call(`${server.url}/api/v1/admin/rate-limits`));
    expect(limits).toMatchObject({ rps: 0, connections_per_ip: 0 });
    expect(await server.stop()).toBe(0);
  });

  it('staging turns auth and rate limits on', async () => {
    const server = await startServer({ shards: 1, extraArgs: ['--profile', 'staging'], env: { MANTIS_ADMIN_PASSWORD: STRONG } });
    const refused = await call(`${server.url}/api/v1/kv/k`);
    fails(refused, 401, 'UNAUTHORIZED');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    ok(await call(`${server.url}/health/live`));
    const { token } = await login(server.url, 'admin', STRONG);
    const limits = ok<{ rps: number; burst: number; connections_per_ip: number }>(await call(`${server.url}/api/v1/admin/rate-limits`, { token }));
    expect(limits).toEqual({ rps: 2000, burst: 4000, classes: {}, connections_per_ip: 1024 });
    ok(await call(`${server.url}/api/v1/kv/k`, { method: 'PUT', token, json: 1 }));
    // A failed login at the default log level does not print the password tried or the real one.
    fails(await call(`${server.url}/api/v1/auth/login`, { method: 'POST', json: { username: 'admin', password: `${STRONG}-typo` }, dispatcher: agentFrom('127.0.0.50') }), 401, 'UNAUTHORIZED');
    const { stdout, stderr } = server.output();
    expect(stdout + stderr).not.toContain(STRONG);
    expect(stdout + stderr).not.toContain(token);
    expect(await server.stop()).toBe(0);
  });

  it('prod with an explicit --tls off and a strong password starts and requires credentials', async () => {
    const server = await startServer({ shards: 1, extraArgs: ['--profile', 'prod', '--tls', 'off'], env: { MANTIS_ADMIN_PASSWORD: STRONG } });
    expect(server.url).toMatch(/^http:\/\//);
    fails(await call(`${server.url}/api/v1/kv/k`), 401, 'UNAUTHORIZED');
    fails(await call(`${server.url}/api/v1/sql`, { method: 'POST', json: { sql: 'select 1' } }), 401, 'UNAUTHORIZED');
    fails(await call(`${server.url}/api/v1/admin/config`), 401, 'UNAUTHORIZED');
    ok(await call(`${server.url}/health/ready`));
    const { token } = await login(server.url, 'admin', STRONG);
    const config = ok<{ config: { fsync: string; security: Record<string, unknown> } }>(await call(`${server.url}/api/v1/admin/config`, { token }));
    expect(config.config.fsync).toBe('always');
    expect(config.config.security).toMatchObject({ profile: 'prod', auth: true, tls: false, tlsExplicitlyOff: true });
    expect(await server.stop()).toBe(0);
  });

  it('reads the bootstrap admin password from MANTIS_ADMIN_PASSWORD_FILE', async () => {
    const dir = makeDataDir();
    const file = join(dir, 'admin-password');
    writeFileSync(file, `${STRONG}-from-file\n`, { mode: 0o600 });
    const server = await startServer({ shards: 1, extraArgs: ['--auth', 'on'], env: { MANTIS_ADMIN_PASSWORD_FILE: file } });
    // The trailing newline is not part of the password.
    const { token } = await login(server.url, 'admin', `${STRONG}-from-file`);
    const config = ok<{ secrets: Record<string, unknown> }>(await call(`${server.url}/api/v1/admin/config`, { token }));
    expect(config.secrets.MANTIS_ADMIN_PASSWORD).toEqual({ value: '***', source: 'file' });
    fails(await call(`${server.url}/api/v1/auth/login`, { method: 'POST', json: { username: 'admin', password: `${STRONG}-from-file\n` }, dispatcher: agentFrom('127.0.0.51') }), 401, 'UNAUTHORIZED');
    expect(await server.stop()).toBe(0);
  });
});

const hasOpenssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasOpenssl) console.warn('profiles.test.ts: the openssl CLI is not available; the TLS tests are skipped');

function selfSigned(dir: string, name: string, cn: string): { cert: string; key: string; fingerprint: string } {
  const cert = join(dir, `${name}-c.pem`);
  const key = join(dir, `${name}-k.pem`);
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

/** The SHA-256 fingerprint of the certificate a new TLS connection is shown. */
function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('TLS connect timed out')));
  });
}

describe.skipIf(!hasOpenssl)('TLS', () => {
  it('serves https with HSTS under prod, and SIGHUP swaps the certificate for new connections', async () => {
    const dir = makeDataDir();
    const first = selfSigned(dir, 'first', '127.0.0.1');
    const cert = join(dir, 'c.pem');
    const key = join(dir, 'k.pem');
    renameSync(first.cert, cert);
    renameSync(first.key, key);
    const server = await startAnyScheme(['--profile', 'prod', '--tls-cert', cert, '--tls-key', key], { MANTIS_ADMIN_PASSWORD: STRONG });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const port = Number(new URL(server.url).port);
    const insecure = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const live = await call(`${server.url}/health/live`, { dispatcher: insecure });
      ok(live);
      expect(live.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      expect(live.headers.get('x-content-type-options')).toBe('nosniff');
      const refused = await call(`${server.url}/api/v1/kv/k`, { dispatcher: insecure });
      fails(refused, 401, 'UNAUTHORIZED');
      expect(refused.headers.get('strict-transport-security')).toMatch(/^max-age=/);
      const session = await login(server.url, 'admin', STRONG, insecure);
      ok(await call(`${server.url}/api/v1/kv/k`, { method: 'PUT', token: session.token, json: 1, dispatcher: insecure }));
      // A client that checks certificates refuses the self-signed one.
      await expect(call(`${server.url}/health/live`)).rejects.toThrow();

      expect(await peerFingerprint(port)).toBe(first.fingerprint);
      const second = selfSigned(dir, 'second', '127.0.0.1');
      expect(second.fingerprint).not.toBe(first.fingerprint);
      renameSync(second.key, key);
      renameSync(second.cert, cert);
      // peerFingerprint connects with SNI (servername localhost), as clients using a host name do; a
      // bare-IP client without SNI keeps the start-up certificate (README, TLS).
      server.proc.kill('SIGHUP');
      const deadline = Date.now() + 5_000;
      let seen = first.fingerprint;
      while (Date.now() < deadline) {
        seen = await peerFingerprint(port).catch(() => seen);
        if (seen === second.fingerprint) break;
        await sleep(50);
      }
      const reloadError = /.*reload failed.*/.exec(server.output().stdout)?.[0] ?? 'no "reload failed" line in stdout';
      expect(seen, `the certificate was not swapped: ${reloadError} ${server.output().stdout.slice(-600)}`).toBe(second.fingerprint);
      // The server goes on answering, with the same session, on new connections (the old ones were closed and reconnect).
      const fresh = new Agent({ connect: { rejectUnauthorized: false } });
      const me = ok<{ id: string }>(await call(`${server.url}/api/v1/auth/me`, { token: session.token, dispatcher: fresh }));
      expect(me.id).toBe('admin');
      await fresh.close();
      ok(await call(`${server.url}/health/live`, { dispatcher: insecure }));
      expect(server.output().stdout).not.toMatch(/reload failed/);
    } finally {
      await insecure.close();
      await server.stop();
    }
  });

  it('refuses a garbage TLS certificate at start (not a crash later)', async () => {
    const dir = makeDataDir();
    const cert = join(dir, 'bad-c.pem');
    const key = join(dir, 'bad-k.pem');
    writeFileSync(cert, 'not a certificate\n');
    writeFileSync(key, 'not a key\n');
    const failed = await startExpectingFailure({ shards: 1, extraArgs: ['--tls', 'on', '--tls-cert', cert, '--tls-key', key] });
    expect(failed.code, failed.stderr).not.toBe(0);
    expect(failed.signal).toBeNull();
    expect(failed.stderr).toMatch(/mantisdb: /);
  });
});
