// Scaffolding for the security suites that run a real server with --auth on:
// a random admin password and JWT signing secret, a small JSON client that
// carries a credential, the admin calls that set up roles, users, API keys and
// KV policies, JWTs signed here with jose (valid, expired, wrong audience, bad
// signature), and stream clients that authenticate the way browsers must
// (?access_token=): an SSE reader over fetch, a WebSocket (the global one when
// the runtime has it, else undici's), and a raw WebSocket handshake over
// node:http that reports the status and headers of a refused upgrade.

import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { SignJWT } from 'jose';
import { WebSocket as UndiciWebSocket } from 'undici';
import { Inbox, sseFields, type SseEvent, type StreamMessage } from './stream-clients.js';
import { startServer, type ServerOptions, type ServerProcess } from './server-process.js';

export const ADMIN_PASSWORD = `admin-${randomBytes(12).toString('base64url')}`;
export const JWT_SECRET = randomBytes(33).toString('base64url');
export const ISSUER = 'mantisdb';
export const AUDIENCE = 'mantisdb';

const WAIT_MS = 10_000;

/** A server with authentication on, the bootstrap admin and a JWT secret this process knows. */
export function startAuthServer(options: ServerOptions = {}): Promise<ServerProcess> {
  return startServer({
    ...options,
    extraArgs: ['--auth', 'on', ...(options.extraArgs ?? [])],
    env: { MANTIS_ADMIN_PASSWORD: ADMIN_PASSWORD, MANTIS_JWT_SECRET: JWT_SECRET, ...options.env },
  });
}

export type Answer = {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  readonly json: Envelope | undefined;
};

export type Envelope = {
  readonly success: boolean;
  readonly data?: unknown;
  readonly meta?: Record<string, unknown>;
  readonly error?: { readonly code: string; readonly message: string; readonly [field: string]: unknown };
};

export type CallOptions = {
  /** "Bearer <token>" is sent when given (a raw Authorization header with `authorization`). */
  readonly token?: string;
  readonly authorization?: string;
  /** A JSON body (objects are stringified; strings are sent as they are). */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
};

function parseJson(text: string): Envelope | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Envelope) : undefined;
  } catch {
    return undefined;
  }
}

/** One request; the body is read whole. */
export async function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.contentType !== undefined) {
    headers['content-type'] = options.contentType;
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: parseJson(text) };
}

/** Fails with the answer when the status is not the expected one; returns data. */
export async function ok<T = unknown>(answer: Promise<Answer> | Answer, status: number | number[] = [200, 201]): Promise<T> {
  const a = await answer;
  const wanted = Array.isArray(status) ? status : [status];
  if (!wanted.includes(a.status)) throw new Error(`expected ${wanted.join('/')}, got ${a.status}: ${a.text.slice(0, 500)}`);
  return a.json?.data as T;
}

export async function login(base: string, username: string, password: string): Promise<string> {
  const data = await ok<{ token: string }>(call(base, 'POST', '/api/v1/auth/login', { body: { username, password } }), 200);
  return data.token;
}

export const loginAdmin = (base: string): Promise<string> => login(base, 'admin', ADMIN_PASSWORD);

export type PermissionSpec = { readonly resource: string; readonly actions: readonly ('read' | 'write')[] };

export async function createRole(base: string, admin: string, name: string, permissions: readonly PermissionSpec[]): Promise<void> {
  await ok(call(base, 'POST', '/api/v1/auth/roles', { token: admin, body: { name, permissions } }), 201);
}

export async function createUser(base: string, admin: string, username: string, password: string, roles: readonly string[], claims: Record<string, unknown> = {}): Promise<void> {
  await ok(call(base, 'POST', '/api/v1/auth/users', { token: admin, body: { username, password, roles, claims } }), 201);
}

export type ApiKey = { readonly key: string; readonly id: string };

export async function createKey(base: string, creator: string, name: string, roles: readonly string[], extra: Record<string, unknown> = {}): Promise<ApiKey> {
  const data = await ok<{ key: string; id: string }>(call(base, 'POST', '/api/v1/auth/keys', { token: creator, body: { name, roles, expires_in_s: 3600, ...extra } }), 201);
  return { key: data.key, id: data.id };
}

export async function revokeKey(base: string, admin: string, id: string): Promise<void> {
  await ok(call(base, 'DELETE', `/api/v1/auth/keys/${encodeURIComponent(id)}`, { token: admin }), 200);
}

export async function createKvPolicy(base: string, admin: string, name: string, prefix: string, roles: readonly string[], command?: string): Promise<void> {
  await ok(call(base, 'POST', '/api/v1/auth/policies', { token: admin, body: { kind: 'kv', name, prefix, roles, ...(command === undefined ? {} : { command }) } }), 201);
}

export type JwtOptions = {
  readonly secret?: string;
  readonly issuer?: string;
  readonly audience?: string;
  readonly subject?: string;
  /** Seconds from now (negative: in the past). */
  readonly expiresInS?: number;
  readonly claims?: Record<string, unknown>;
};

/** An HS256 token as the server signs its own (iss/aud/sub/exp/nbf/iat), with roles in `claims`. */
export function signJwt(options: JwtOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (options.expiresInS ?? 3600);
  return new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setSubject(options.subject ?? 'jwt-user')
    .setIssuedAt(Math.min(now, exp - 60))
    .setNotBefore(Math.min(now, exp - 60))
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

// --- streams ----------------------------------------------------------------

export type SseStream = {
  readonly status: number;
  readonly headers: Headers;
  /** The body of a refused request (status ≠ 200). */
  readonly text: string;
  readonly inbox: Inbox<SseEvent>;
  close(): void;
};

function parseSseBlock(block: string, inbox: Inbox<SseEvent>): void {
  const f = sseFields(block);
  if (f.data !== null) inbox.push({ id: f.id, event: f.event, data: JSON.parse(f.data) as StreamMessage });
}

/**
 * Opens an SSE stream (path with its query, e.g. `/api/v1/cache/invalidations/stream?prefix=a&access_token=…`).
 * A 200 is read in the background into the inbox; any other status is read whole into text.
 */
export async function openSseStream(base: string, pathAndQuery: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(`${base}${pathAndQuery}`, { headers, signal: abort.signal });
  const inbox = new Inbox<SseEvent>();
  if (response.status !== 200 || response.body === null) {
    const text = await response.text();
    inbox.finish(`status ${response.status}`);
    return { status: response.status, headers: response.headers, text, inbox, close: () => abort.abort() };
  }
  const body = response.body;
  void (async () => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of body) {
        text += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          parseSseBlock(block, inbox);
        }
      }
      inbox.finish('end');
    } catch (error) {
      inbox.finish(error instanceof Error ? error.message : String(error));
    }
  })();
  return { status: 200, headers: response.headers, text: '', inbox, close: () => abort.abort() };
}

type WebSocketLike = {
  send(data: string): void;
  close(): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
};
type WebSocketCtor = new (url: string) => WebSocketLike;

/** The runtime's WebSocket (Node 22+, browsers), else undici's (Node 20 has none without a flag). */
export const WebSocketImpl: WebSocketCtor = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket ?? (UndiciWebSocket as unknown as WebSocketCtor);

export type WsStream = {
  readonly inbox: Inbox<StreamMessage>;
  send(message: unknown): void;
  /** Sends a message and waits for the next one (the answer to it). */
  request(message: unknown): Promise<StreamMessage>;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
};

/** Opens /ws (with `?access_token=` when a token is given); rejects when the upgrade is refused. */
export async function openWsStream(base: string, token?: string): Promise<WsStream> {
  const url = `${base.replace(/^http/, 'ws')}/ws${token === undefined ? '' : `?access_token=${encodeURIComponent(token)}`}`;
  const ws = new WebSocketImpl(url);
  const inbox = new Inbox<StreamMessage>();
  ws.addEventListener('message', (e) => inbox.push(JSON.parse(String(e.data)) as StreamMessage));
  const closed = new Promise<{ code: number; reason: string }>((done) =>
    ws.addEventListener('close', (e) => {
      inbox.finish(`close ${e.code ?? 0}`);
      done({ code: e.code ?? 0, reason: e.reason ?? '' });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error(`WebSocket ${url.replace(/access_token=[^&]*/, 'access_token=…')} did not open`)));
  });
  const send = (message: unknown): void => ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  return {
    inbox,
    send,
    request: (message) => {
      send(message);
      return inbox.next(WAIT_MS, `the answer to ${JSON.stringify(message)}`);
    },
    closed,
    close: () => ws.close(),
  };
}

export type Handshake = { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: string };

/**
 * A WebSocket upgrade request over node:http: the status and headers of the answer (101 when the
 * upgrade was accepted; the socket is then closed at once), with the body of a refusal.
 */
export function wsHandshake(base: string, pathAndQuery: string, headers: Record<string, string> = {}): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${pathAndQuery}`, {
      method: 'GET',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        ...headers,
      },
      signal: AbortSignal.timeout(WAIT_MS),
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
