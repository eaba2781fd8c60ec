// @vitest-environment jsdom
// Component tests for the dashboard's data hooks (useApi, useAction,
// useEventStream), the client (api.ts) and the SSE parser, rendered with React
// in jsdom against a real server process (auth on, so credentials matter).
// The browser resolves relative URLs against the page; Node's fetch does not,
// so relative URLs are resolved against the test server here.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createElement, act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { api, ApiError, credential, requestRaw, urlOf } from '../src/api';
import { SseParser, useAction, useApi, useEventStream, type Action, type ApiState, type StreamEvent } from '../src/hooks';
import { toastStore } from '../src/toast';

// jsdom gives modules an http: import.meta.url; vitest runs from the repo's root.
const ROOT = resolve(process.cwd());
const ADMIN_PASSWORD = `hooks-${Math.random().toString(36).slice(2)}-pw`;

let server: ChildProcess;
let base = '';
let dataDir = '';
let token = '';

function startServer(): Promise<string> {
  dataDir = mkdtempSync(join(tmpdir(), 'mantis-hooks-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MANTIS_ADMIN_PASSWORD: ADMIN_PASSWORD, MANTIS_JWT_SECRET: 'hooks-test-secret-0123456789abcdefghijklmnop' };
  for (const name of Object.keys(env)) if (name.startsWith('MANTIS_') && !['MANTIS_ADMIN_PASSWORD', 'MANTIS_JWT_SECRET'].includes(name)) delete env[name];
  server = spawn(process.execPath, [join(ROOT, 'dist/src/main.js'), '--port', '0', '--host', '127.0.0.1', '--shards', '1', '--log-level', 'warn', '--auth', 'on', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((ok, fail) => {
    let out = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /MantisDB listening on (http:\/\/\S+)/.exec(out);
      if (m !== null) ok(m[1]);
    });
    server.once('exit', (code) => fail(new Error(`server exited with ${code}: ${out}`)));
  });
}

const nodeFetch = globalThis.fetch;

beforeAll(async () => {
  base = await startServer();
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) =>
    nodeFetch(typeof input === 'string' && input.startsWith('/') ? base + input : input, init)) as typeof fetch;
  const login = await nodeFetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
  token = ((await login.json()) as { data: { token: string } }).data.token;
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
}, 60_000);

afterAll(async () => {
  globalThis.fetch = nodeFetch;
  server?.kill('SIGTERM');
  await new Promise((ok) => (server.exitCode !== null ? ok(null) : server.once('exit', ok)));
  rmSync(dataDir, { recursive: true, force: true });
});

afterEach(() => {
  toastStore.clear();
  credential.set(null);
});

/** Renders a component that calls the hook and exposes its latest result. */
function renderHook<T>(hook: () => T): { current: () => T; unmount: () => void; root: Root } {
  let latest: T | undefined;
  const Probe = () => {
    latest = hook();
    return null;
  };
  const host = document.createElement('div');
  document.body.append(host);
  const root = createRoot(host);
  act(() => root.render(createElement(Probe)));
  return {
    current: () => latest as T,
    unmount: () => {
      act(() => root.unmount());
      host.remove();
    },
    root,
  };
}

const toastCodes = () => toastStore.list().map((t) => `${t.kind}:${t.code ?? ''}`);

describe('api client', () => {
  it('sends the signed-in credential and unwraps the envelope', async () => {
    await expect(api.get('/api/v1/auth/me')).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    credential.set(token);
    const me = await api.get<{ id: string; admin: boolean }>('/api/v1/auth/me');
    expect(me.status).toBe(200);
    expect(me.data.admin).toBe(true);
  });

  it('turns an error envelope into an ApiError with the server code, message and details', async () => {
    credential.set(token);
    const error = await api.put('/api/v1/cache/policies', { policies: [{ prefix: 'x:', policy: 'no-such-policy' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).code).toBe('INVALID_PARAMETER');
    expect((error as ApiError).message).toMatch(/policy/);
  });

  it('reads raw values and builds query strings', async () => {
    credential.set(token);
    await requestRaw('PUT', '/api/v1/kv/hooks:raw', { body: 'plain text', contentType: 'text/plain' });
    const raw = await requestRaw('GET', '/api/v1/kv/hooks:raw');
    expect(raw.headers.get('content-type')).toContain('text/plain');
    expect(await raw.text()).toBe('plain text');
    expect(urlOf('/x', { a: 1, b: '', c: undefined, d: 'y z' })).toBe('/x?a=1&d=y+z');
  });
});

describe('useApi', () => {
  it('is loading, then holds data and meta; reload fetches again', async () => {
    credential.set(token);
    await api.put('/api/v1/kv/hooks:a', { n: 1 });
    const hook = renderHook<ApiState<string[]>>(() => useApi<string[]>('/api/v1/kv', { query: { prefix: 'hooks:a' } }));
    expect(hook.current().loading).toBe(true);
    await vi.waitFor(() => expect(hook.current().loading).toBe(false));
    expect(hook.current().data).toEqual(['hooks:a']);
    expect(hook.current().meta.count).toBe(1);
    await api.put('/api/v1/kv/hooks:a2', { n: 2 });
    act(() => hook.current().reload());
    await vi.waitFor(() => expect(hook.current().data).toEqual(['hooks:a', 'hooks:a2']));
    hook.unmount();
  });

  it('reports a failure as an error toast with the server code, and keeps the error', async () => {
    const hook = renderHook(() => useApi('/api/v1/metrics/history'));
    await vi.waitFor(() => expect(hook.current().error).toBeDefined());
    expect((hook.current().error as ApiError).code).toBe('UNAUTHORIZED');
    expect(hook.current().loading).toBe(false);
    expect(toastCodes()).toContain('error:UNAUTHORIZED');
    expect(toastStore.list().find((t) => t.code === 'UNAUTHORIZED')?.message).toBeTruthy();
    hook.unmount();
  });

  it('fetches nothing for a null path, and no toast when asked not to', async () => {
    const none = renderHook(() => useApi(null));
    expect(none.current().loading).toBe(false);
    const quiet = renderHook(() => useApi('/api/v1/alerts', { toast: false }));
    await vi.waitFor(() => expect(quiet.current().error).toBeDefined());
    expect(toastStore.list()).toEqual([]);
    none.unmount();
    quiet.unmount();
  });
});

describe('useAction', () => {
  it('is busy while running, then shows a success toast; a failure shows the server code', async () => {
    credential.set(token);
    const hook = renderHook<Action>(() => useAction());
    let finish: (v: number) => void = () => undefined;
    let result: Promise<number | undefined> = Promise.resolve(undefined);
    act(() => {
      result = hook.current().run(() => new Promise<number>((ok) => (finish = ok)), (n) => `stored ${n}`);
    });
    await vi.waitFor(() => expect(hook.current().busy).toBe(true));
    finish(7);
    expect(await result).toBe(7);
    await vi.waitFor(() => expect(hook.current().busy).toBe(false));
    expect(toastStore.list().map((t) => t.message)).toContain('stored 7');

    let failed: unknown = 'not run';
    await act(async () => {
      failed = await hook.current().run(() => api.post('/api/v1/cache/invalidate', { key: 'a', tag: 'b' }));
    });
    expect(failed).toBeUndefined();
    expect(toastCodes()).toContain('error:INVALID_PARAMETER');
    expect(hook.current().error).toBeInstanceOf(ApiError);
    hook.unmount();
  });
});

describe('useEventStream', () => {
  it('follows the metric stream with the credential', async () => {
    credential.set(token);
    const events: StreamEvent[] = [];
    const hook = renderHook(() => useEventStream('/api/v1/metrics/stream', (e) => events.push(e), { interval_ms: 200 }));
    await vi.waitFor(() => expect(events.filter((e) => e.event === 'metrics').length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    expect(hook.current().connected).toBe(true);
    const snapshot = JSON.parse(events.find((e) => e.event === 'metrics')?.data ?? '{}') as { requests_per_s?: number; shards?: unknown[] };
    expect(typeof snapshot.requests_per_s).toBe('number');
    expect(snapshot.shards).toHaveLength(1);
    hook.unmount();
  });

  it('reports a refused stream once as a toast and keeps retrying', async () => {
    const hook = renderHook(() => useEventStream('/api/v1/metrics/stream', () => undefined, { interval_ms: 200 }));
    await vi.waitFor(() => expect(hook.current().error).toBeDefined());
    expect(hook.current().connected).toBe(false);
    expect(toastCodes()).toContain('error:UNAUTHORIZED');
    // Signing in lets the next attempt through (the retry is 1 s after the first failure).
    credential.set(token);
    await vi.waitFor(() => expect(hook.current().connected).toBe(true), { timeout: 10_000 });
    hook.unmount();
  });
});

describe('SseParser', () => {
  it('handles fields split across chunks, CRLF, comments and multi-line data', () => {
    const parser = new SseParser();
    expect(parser.push(': comment\r\nevent: met')).toEqual([]);
    expect(parser.push('rics\r\ndata: {"a":\r\ndata: 1}\r\nid: 7\r\n')).toEqual([]);
    expect(parser.push('\r\n')).toEqual([{ event: 'metrics', data: '{"a":\n1}', id: '7' }]);
    expect(parser.push('data:x\n\ndata: y\n\n')).toEqual([
      { event: 'message', data: 'x', id: '7' },
      { event: 'message', data: 'y', id: '7' },
    ]);
  });
});
