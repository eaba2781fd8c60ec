// Reproductions from the review of the dashboard and the API description,
// each failing on the code before its fix: a value too deep to pretty-print
// blanked the whole app; collections named "." or ".." (which no URL path can
// carry) were accepted and then crashed the Documents section; a refused API
// key on the sign-in form said nothing; API docs' try-it-out writes from a
// cookie session lacked the CSRF header; a read-only user's Overview said
// "reconnecting" forever; conditional requests and redirects of the
// dashboard's files.

import { request as httpRequest } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { ADMIN_PASSWORD, createRole, createUser, login, startAuthServer } from '../helpers/auth-support.js';
import { apiJson, dashboardEnv, expectErrorToast, launchBrowser, openDashboard, SKIP_BROWSER } from './browser.js';

describe('dashboard review: the server side', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ shards: 1, env: dashboardEnv() });
  });
  afterAll(cleanup);

  it('refuses "." and ".." as collection names (no URL path can name them)', async () => {
    for (const name of ['.', '..']) {
      // node:http with a path option sends it as written (a URL string is normalized first).
      const answer = await new Promise<{ status: number; body: string }>((ok, fail) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, path: `/api/v1/docs/${name}`, method: 'PUT', headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', fail);
        req.end('{}');
      });
      expect(answer.status, answer.body).toBe(400);
      expect((JSON.parse(answer.body) as { error: { code: string } }).error.code).toBe('INVALID_PARAMETER');
    }
    expect((await apiJson(server.url, 'POST', '/api/v1/docs/x/indexes', { name: '.', keys: { a: 1 } })).error?.code).toBe('INVALID_PARAMETER');
  });

  it('answers If-None-Match weakly, with lists and "*"; gzip has its own validator; /admin keeps the query', async () => {
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const r = await request(server.url + path, { headers });
      await r.body.arrayBuffer();
      return r;
    };
    const plain = await get('/admin/');
    const etag = String(plain.headers.etag);
    expect((await get('/admin/', { 'if-none-match': `W/${etag}` })).statusCode).toBe(304);
    expect((await get('/admin/', { 'if-none-match': `"other", ${etag}` })).statusCode).toBe(304);
    expect((await get('/admin/', { 'if-none-match': '*' })).statusCode).toBe(304);
    expect((await get('/admin/', { 'if-none-match': '"other"' })).statusCode).toBe(200);
    const script = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(await (await request(`${server.url}/admin/`)).body.text())?.[1] as string;
    const zipped = await get(script, { 'accept-encoding': 'gzip' });
    const unzipped = await get(script);
    expect(zipped.headers.etag).not.toBe(unzipped.headers.etag);
    expect((await get(script, { 'accept-encoding': 'gzip', 'if-none-match': String(zipped.headers.etag) })).statusCode).toBe(304);
    const redirect = await get('/admin?tab=indexes&c=orders');
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('/admin/?tab=indexes&c=orders');
    expect((await get('/admin/vendor/swagger-ui/LICENSE')).headers['content-type']).toBe('text/plain; charset=utf-8');
  });
});

describe.skipIf(SKIP_BROWSER)('dashboard review: in the browser', () => {
  let server: ServerProcess;
  let secured: ServerProcess;
  let browser: Browser;
  let admin = '';
  let reader = '';
  beforeAll(async () => {
    [server, secured, browser] = await Promise.all([startServer({ shards: 1, env: dashboardEnv() }), startAuthServer({ shards: 1, env: dashboardEnv() }), launchBrowser()]);
    admin = await login(secured.url, 'admin', ADMIN_PASSWORD);
    await createRole(secured.url, admin, 'kv-only', [{ resource: 'kv:', actions: ['read'] }]);
    await createUser(secured.url, admin, 'reader', 'reader-password-1', ['kv-only']);
    reader = await login(secured.url, 'reader', 'reader-password-1');
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  it('shows a value nested too deep to pretty-print as a note, and the page keeps working', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    await fetch(`${server.url}/api/v1/kv/deep%2F5000`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: deep });
    const { page, context, errors } = await openDashboard(browser, server.url, '/admin/kv?prefix=deep%2F&key=deep%2F5000');
    await page.getByText('cannot be pretty-printed').waitFor();
    // The rest of the app is alive: navigation works.
    await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Cache', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe('Cache');
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });

  it('says so when the sign-in form gets an API key the server refuses', async () => {
    const { page, context } = await openDashboard(browser, secured.url, '/admin/overview');
    await page.getByRole('tab', { name: 'API key' }).click();
    await page.getByLabel('API key').fill('mk_not_a_real_key_123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectErrorToast(page, 'UNAUTHORIZED');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate('sessionStorage.getItem("mantis.credential")')).toBeNull();
    await context.close();
  });

  it('shows a refused metric stream as refused, not as reconnecting, and the alerts as unreadable', async () => {
    const { page, context } = await openDashboard(browser, secured.url, '/admin/overview', { credential: reader });
    await page.getByText('refused: FORBIDDEN').waitFor();
    await page.getByText('Alert states could not be read').waitFor();
    await context.close();
  });

  it('sends the CSRF header with try-it-out writes from a cookie session', async () => {
    const { page, context } = await openDashboard(browser, secured.url, '/admin/overview');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // A session that lives only in the cookies, as an OAuth2 sign-in leaves it.
    const status = await page.evaluate(`fetch('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ${JSON.stringify(ADMIN_PASSWORD)} }) }).then((r) => r.status)`);
    expect(status).toBe(200);
    await page.goto(`${secured.url}/admin/api`);
    await page.locator('.opblock-tag[data-tag="Key-value"]').click();
    const operation = page.locator('.opblock-post', { has: page.locator('.opblock-summary-path[data-path="/api/v1/kv/batch"]') }).first();
    await operation.locator('.opblock-summary-control').click();
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/v1/kv/batch') && r.request().method() === 'POST');
    await operation.getByRole('button', { name: 'Execute' }).click();
    const response = await answered;
    expect(response.request().headers()['x-csrf-token']).toBeTruthy();
    expect(response.status()).toBe(200);
    await context.close();
  });
});
