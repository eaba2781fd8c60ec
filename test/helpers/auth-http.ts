// HTTP helpers for the authentication/authorization integration tests
// (test/security/auth-api, profiles, rate-limit): one request through undici
// (optionally from another loopback source address, or over TLS with an
// untrusted certificate) read whole into status, headers and text; the JSON
// envelope asserted; logging in; decoding a JWT payload; and a server start
// that accepts an https:// ready line (server-process.ts only parses http://).

import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch, type Dispatcher } from 'undici';
import { expect } from 'vitest';
import { serverProcessEnv } from '../../src/process-env.js';
import { makeDataDir } from './server-process.js';

export type Reply = {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Every Set-Cookie header, in order. */
  readonly setCookies: readonly string[];
};

export type CallOptions = {
  readonly method?: string;
  /** Sent as Authorization: Bearer <token>. */
  readonly token?: string;
  /** A JSON body (objects are stringified; strings are sent as is) with Content-Type application/json. */
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
  readonly dispatcher?: Dispatcher;
};

/** One request, the whole body read; never throws on a non-2xx status. */
export async function call(url: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.json === 'string' ? options.json : JSON.stringify(options.json);
  }
  const response = await fetch(url, { method: options.method ?? 'GET', headers, body, dispatcher: options.dispatcher });
  const text = await response.text();
  return { status: response.status, headers: response.headers as unknown as Headers, text, setCookies: response.headers.getSetCookie() };
}

type Envelope = { success: boolean; data?: unknown; meta?: Record<string, unknown>; error?: { code: string; message: string; retryable: boolean } & Record<string, unknown> };

function envelopeOf(r: Reply): Envelope {
  try {
    return JSON.parse(r.text) as Envelope;
  } catch {
    throw new Error(`status ${r.status}, body is not JSON: ${r.text.slice(0, 300)}`);
  }
}

/** Asserts a success envelope with this status; returns its data. */
export function ok<T = Record<string, unknown>>(r: Reply, status = 200): T {
  expect(r.status, r.text).toBe(status);
  const envelope = envelopeOf(r);
  expect(envelope.success, r.text).toBe(true);
  return envelope.data as T;
}

export type ErrorInfo = { readonly code: string; readonly message: string; readonly retryable: boolean } & Record<string, unknown>;

/** Asserts an error envelope with this status and code; returns the error object. */
export function fails(r: Reply, status: number, code: string): ErrorInfo {
  expect({ status: r.status, text: r.text }).toEqual({ status, text: expect.stringContaining(`"code":"${code}"`) });
  const envelope = envelopeOf(r);
  expect(envelope.success).toBe(false);
  const error = envelope.error as ErrorInfo;
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

/** An undici Agent whose connections come from this loopback address (127.0.0.0/8 all reach 127.0.0.1 on Linux). */
export function agentFrom(localAddress: string): Agent {
  return new Agent({ localAddress });
}

/** The payload of a JWT, unverified. */
export function jwtPayload(token: string): Record<string, unknown> {
  const parts = token.split('.');
  expect(parts).toHaveLength(3);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export type Session = { readonly token: string; readonly csrf: string; readonly expiresAt: string; readonly reply: Reply };

/** POST /api/v1/auth/login; asserts 200 and returns the token, the CSRF value and the reply. */
export async function login(base: string, username: string, password: string, dispatcher?: Dispatcher): Promise<Session> {
  const reply = await call(`${base}/api/v1/auth/login`, { method: 'POST', json: { username, password }, dispatcher });
  const data = ok<{ token: string; csrf_token: string; expires_at: string }>(reply);
  return { token: data.token, csrf: data.csrf_token, expiresAt: data.expires_at, reply };
}

/** The value of a cookie set by a Set-Cookie header list, or undefined. */
export function cookieFrom(setCookies: readonly string[], name: string): { value: string; attributes: string[] } | undefined {
  for (const line of setCookies) {
    const [pair, ...attributes] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    if (pair.slice(0, eq) === name) return { value: decodeURIComponent(pair.slice(eq + 1)), attributes };
  }
  return undefined;
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

// --- a server start that accepts https:// -----------------------------------

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const ANY_READY_LINE = /^MantisDB listening on (https?:\/\/\S+)$/m;

export type SchemeServer = {
  readonly url: string;
  readonly proc: ChildProcess;
  output(): { stdout: string; stderr: string };
  stop(): Promise<void>;
};

const started = new Set<ChildProcess>();

/**
 * Starts dist/src/main.js like server-process.ts's startServer (fresh data dir from makeDataDir,
 * --port 0, MANTIS_* only from `env`), but resolves with an http:// or https:// ready line.
 */
export async function startAnyScheme(extraArgs: readonly string[], env: Readonly<Record<string, string>>): Promise<SchemeServer> {
  const dataDir = makeDataDir();
  const childEnv: NodeJS.ProcessEnv = serverProcessEnv({ ...process.env, ...env });
  for (const name of Object.keys(childEnv)) if (name.startsWith('MANTIS_') && env[name] === undefined) delete childEnv[name];
  const args = [MAIN, '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--data-dir', dataDir, '--shards', '1', ...extraArgs];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(proc);
  const out = { stdout: '', stderr: '' };
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const exited = new Promise<void>((done) => {
    proc.once('exit', () => {
      started.delete(proc);
      done();
    });
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready after 30 s\n${out.stderr}\n${out.stdout}`)), 30_000);
    const check = (): void => {
      const match = ANY_READY_LINE.exec(out.stdout);
      if (match === null) return;
      clearTimeout(timer);
      resolveUrl(match[1]);
    };
    proc.stdout?.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready\nstderr:\n${out.stderr}`));
    });
  }).catch((error: unknown) => {
    proc.kill('SIGKILL');
    throw error;
  });
  return {
    url,
    proc,
    output: () => ({ ...out }),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** SIGKILLs what startAnyScheme started and is still running (the data dirs go with server-process's cleanup()). */
export async function stopAnyScheme(): Promise<void> {
  await Promise.all(
    [...started].map(
      (proc) =>
        new Promise<void>((done) => {
          proc.once('exit', () => done());
          if (proc.exitCode !== null || proc.signalCode !== null) done();
          else proc.kill('SIGKILL');
        }),
    ),
  );
}
