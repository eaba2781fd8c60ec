// The Auth and API docs sections with authentication on, in a real browser
// against a real server: signing in through the dashboard's form, users, API
// keys (the secret shown once, copied, then revoked), roles and row-level
// policies, each checked through the API; a new user signing in; Swagger UI
// served by this server, its try-it-out calling a real route with the
// signed-in credential and nothing fetched from another host; the Storage
// section of a server without --backup-dir.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { apiJson, confirm, dashboardEnv, expectErrorToast, expectSuccessToast, launchBrowser, openDashboard, screenshot, seriousViolations, SKIP_BROWSER } from './browser.js';

const ADMIN_PASSWORD = `Adm1n-${randomBytes(12).toString('hex')}`;
const JWT_SECRET = `jwt-${randomBytes(24).toString('hex')}`;
const DANA_PASSWORD = `dana-${randomBytes(8).toString('hex')}`;

type User = { username: string; roles: string[]; claims: Record<string, unknown> };
type Role = { name: string; permissions: { resource: string; actions: string[] }[]; builtin: boolean };
type Policy = { kind: string; name: string; template?: string; collection?: string; command: string; roles: string[]; using?: unknown };

describe.skipIf(SKIP_BROWSER)('dashboard: Auth and API docs, auth on', () => {
  let server: ServerProcess;
  let browser: Browser;
  let url: string;
  let admin: string;

  const asAdmin = <T>(method: string, path: string, body?: unknown) => apiJson<T>(url, method, path, body, admin);

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startServer({ shards: 1, extraArgs: ['--auth', 'on'], env: dashboardEnv({ MANTIS_ADMIN_PASSWORD: ADMIN_PASSWORD, MANTIS_JWT_SECRET: JWT_SECRET }) }),
      launchBrowser(),
    ]);
    url = server.url;
    const login = await apiJson<{ token: string }>(url, 'POST', '/api/v1/auth/login', { username: 'admin', password: ADMIN_PASSWORD });
    expect(login.status).toBe(200);
    admin = login.data.token;
    // A team's worth of accounts, so the lists look like a real deployment.
    for (const [username, roles, claims] of [
      ['ops-oncall', ['admin'], {}],
      ['analyst', ['readonly'], { team: 'bi' }],
      ['svc-reports', ['readwrite'], { tenant: 'acme' }],
    ] as const) {
      expect((await asAdmin('POST', '/api/v1/auth/users', { username, password: `pw-${randomBytes(8).toString('hex')}`, roles, claims })).status).toBe(201);
    }
    expect((await asAdmin('POST', '/api/v1/auth/keys', { name: 'ci-deploy', roles: ['readwrite'], expires_in_s: 7_776_000 })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  const clearToasts = async (page: Page): Promise<void> => {
    const buttons = page.getByRole('button', { name: 'Dismiss notification' });
    for (let i = 0; i < 10 && (await buttons.count()) > 0; i++) await buttons.first().click({ timeout: 2000 }).catch(() => undefined);
  };
  const signIn = async (page: Page, username: string, password: string): Promise<void> => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };
  const h1 = (page: Page) => page.getByRole('heading', { level: 1 }).first();

  it('Auth: signs in, manages users, API keys, roles and policies, and the new user signs in', async () => {
    const { page, context, errors } = await openDashboard(browser, url, '/admin/auth');
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await expect.poll(() => h1(page).textContent()).toBe('Auth');
    expect(await page.locator('.auth-off').count()).toBe(0);
    await expect.poll(() => page.getByRole('region', { name: 'Every user' }).textContent()).toContain('ops-oncall');

    // A new user with a role and a claim.
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Username').fill('dana');
    await form.getByLabel('Password').fill(DANA_PASSWORD);
    await form.getByRole('checkbox', { name: 'readwrite' }).check();
    await form.getByRole('checkbox', { name: 'readonly' }).uncheck();
    await form.getByLabel(/^Claims/).fill('{"tenant": "acme"}');
    await form.getByRole('button', { name: 'Create user' }).click();
    await expectSuccessToast(page, 'User dana created');
    let users = (await asAdmin<User[]>('GET', '/api/v1/auth/users')).data;
    expect(users.find((u) => u.username === 'dana')).toMatchObject({ roles: ['readwrite'], claims: { tenant: 'acme' } });
    // The same name again: the server's error, with its code.
    await form.getByLabel('Username').fill('dana');
    await form.getByLabel('Password').fill(DANA_PASSWORD);
    await form.getByRole('button', { name: 'Create user' }).click();
    await expectErrorToast(page, 'USER_EXISTS');

    // Change the roles in the edit dialog.
    await page.getByRole('button', { name: 'Edit user dana' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit dana' });
    await dialog.getByRole('checkbox', { name: 'readonly' }).check();
    await dialog.getByRole('button', { name: 'Save user' }).click();
    await expectSuccessToast(page, 'User dana updated');
    users = (await asAdmin<User[]>('GET', '/api/v1/auth/users')).data;
    expect(users.find((u) => u.username === 'dana')?.roles.sort()).toEqual(['readonly', 'readwrite']);
    await expect.poll(() => page.getByRole('row', { name: /^dana/ }).textContent()).toContain('readonly');
    expect(await seriousViolations(page)).toEqual([]);
    await clearToasts(page);
    await screenshot(page, 'auth');

    // API keys: the secret once, copied to the clipboard; it works until revoked.
    await page.getByRole('tab', { name: 'API keys' }).click();
    await page.waitForURL(/tab=keys/);
    const keyForm = page.getByRole('form', { name: 'New API key' });
    await keyForm.getByLabel(/^Name/).fill('billing-service');
    await keyForm.getByLabel('Expires').selectOption({ label: 'In 30 days' });
    await keyForm.getByRole('button', { name: 'Create API key' }).click();
    const created = page.getByRole('dialog', { name: 'API key created' });
    const secret = await created.getByTestId('new-key-secret').inputValue();
    expect(secret).toMatch(/^mk_/);
    await created.getByRole('button', { name: 'Copy' }).click();
    await expectSuccessToast(page, 'API key copied');
    expect(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(secret);
    expect(await seriousViolations(page)).toEqual([]);
    await created.getByRole('button', { name: 'I have stored it' }).click();
    const me = await apiJson<{ kind: string; roles: string[] }>(url, 'GET', '/api/v1/auth/me', undefined, secret);
    expect(me.data).toMatchObject({ kind: 'key', roles: ['readonly'] });
    // Deep link: still signed in, on the same tab, after a reload.
    await page.reload();
    await expect.poll(() => page.getByRole('tab', { name: 'API keys' }).getAttribute('aria-selected')).toBe('true');
    await page.getByRole('button', { name: 'Revoke API key billing-service' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'API key billing-service revoked');
    expect((await apiJson(url, 'GET', '/api/v1/auth/me', undefined, secret)).status).toBe(401);
    await expect.poll(() => page.getByRole('button', { name: 'Revoke API key billing-service' }).count()).toBe(0);

    // A custom role with two permissions, then deleted.
    await page.getByRole('tab', { name: 'Roles' }).click();
    const roleForm = page.getByRole('form', { name: 'New custom role' });
    await roleForm.getByLabel(/^Name/).fill('support');
    await roleForm.getByLabel('Permission 1 resource').fill('kv:ticket:');
    await roleForm.getByRole('checkbox', { name: 'write for permission 1' }).check();
    await roleForm.getByRole('button', { name: 'Add permission' }).click();
    await roleForm.getByLabel('Permission 2 resource').fill('docs:tickets');
    await roleForm.getByRole('button', { name: 'Save role' }).click();
    await expectSuccessToast(page, 'Role support saved');
    const roles = (await asAdmin<Role[]>('GET', '/api/v1/auth/roles')).data;
    expect(roles.find((r) => r.name === 'support')).toEqual({
      name: 'support',
      builtin: false,
      permissions: [
        { resource: 'kv:ticket:', actions: ['read', 'write'] },
        { resource: 'docs:tickets', actions: ['read'] },
      ],
    });
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Delete role support' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Role support deleted');
    expect((await asAdmin<Role[]>('GET', '/api/v1/auth/roles')).data.map((r) => r.name)).not.toContain('support');

    // Row-level policies: one on KV keys, one on a collection; the KV one deleted.
    await page.getByRole('tab', { name: 'Policies' }).click();
    const policyForm = page.getByRole('form', { name: 'New policy' });
    await policyForm.getByLabel('Applies to').selectOption('kv');
    await policyForm.getByLabel(/^Name/).fill('own-keys');
    await policyForm.getByLabel(/^Key prefix template/).fill('user:{sub}:');
    await policyForm.getByRole('button', { name: 'Create policy' }).click();
    await expectSuccessToast(page, 'Policy own-keys created');
    await policyForm.getByLabel('Applies to').selectOption('docs');
    await policyForm.getByLabel(/^Name/).fill('tenant-orders');
    await policyForm.getByLabel(/^Collection/).fill('orders');
    await policyForm.getByLabel('Command').selectOption('select');
    await policyForm.getByRole('button', { name: 'Create policy' }).click();
    await expectSuccessToast(page, 'Policy tenant-orders created');
    let policies = (await asAdmin<Policy[]>('GET', '/api/v1/auth/policies')).data;
    expect(policies).toEqual([
      { kind: 'kv', name: 'own-keys', template: 'user:{sub}:', command: 'all', roles: ['public'] },
      { kind: 'docs', name: 'tenant-orders', collection: 'orders', command: 'select', roles: ['public'], using: { tenant: '$$CLAIMS.tenant' }, check: null },
    ]);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Delete policy own-keys' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Policy own-keys deleted');
    policies = (await asAdmin<Policy[]>('GET', '/api/v1/auth/policies')).data;
    expect(policies.map((p) => p.name)).toEqual(['tenant-orders']);

    // The new user signs in through the same form.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(page, 'dana', DANA_PASSWORD);
    await expect.poll(() => page.locator('.topbar').textContent()).toContain('dana');
    await page.getByRole('tab', { name: 'Users' }).click();
    await expect.poll(() => page.getByRole('main').textContent()).toContain('This needs the admin role');
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });

  it('API docs: Swagger UI from this server, try-it-out sends the credential, nothing from other hosts', async () => {
    const { page, context } = await openDashboard(browser, url, '/admin/api', { credential: admin });
    const requests: { url: string; authorization: string | undefined }[] = [];
    page.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers().authorization }));
    // From the start, now that requests are recorded.
    await page.reload();
    await expect.poll(() => h1(page).textContent()).toBe('API docs');
    await page.locator('.swagger-ui .info .title').waitFor();
    expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('MantisDB HTTP API');
    // Swagger UI's own h1 becomes a level-2 heading under the page's h1.
    await expect.poll(() => page.getByRole('heading', { level: 1 }).count()).toBe(1);

    await page.locator('#operations-tag-Auth').click();
    await page.locator('.opblock-summary-path[data-path="/api/v1/auth/users"]').first().waitFor();
    await screenshot(page, 'api-docs');
    const op = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path[data-path="/api/v1/auth/me"]') });
    await op.locator('.opblock-summary-control').click();
    await op.getByRole('button', { name: 'Execute' }).click();
    const live = op.locator('.live-responses-table');
    await expect.poll(() => live.locator('tr.response .response-col_status').first().textContent()).toContain('200');
    const body = (await live.locator('tr.response .response-col_description pre').first().textContent()) ?? '';
    expect(JSON.parse(body)).toMatchObject({ success: true, data: { kind: 'user', id: 'admin', admin: true, auth: true } });
    const call = requests.find((r) => r.url === `${url}/api/v1/auth/me`);
    expect(call?.authorization).toBe(`Bearer ${admin}`);
    expect(requests.some((r) => r.url === `${url}/admin/vendor/swagger-ui/swagger-ui-bundle.js`)).toBe(true);
    // Every request went to this server (the viewer, its styles, the description, the calls).
    expect(requests.filter((r) => !r.url.startsWith(`${url}/`) && !r.url.startsWith('data:') && !r.url.startsWith('blob:')).map((r) => r.url)).toEqual([]);
    expect(await seriousViolations(page)).toEqual([]);

    // Deep link: the opened operation is in the URL's fragment and opens again after a reload.
    await expect.poll(() => new URL(page.url()).hash).toMatch(/^#\/Auth\//);
    await page.reload();
    await expect.poll(() => op.locator('.opblock-body').count()).toBe(1);
    await expect.poll(() => op.getAttribute('class')).toContain('is-open');
    await context.close();
  });

  it('Storage without --backup-dir explains how to turn backups on', async () => {
    const { page, context } = await openDashboard(browser, url, '/admin/storage?tab=backups', { credential: admin });
    await expect.poll(() => page.getByRole('main').textContent()).toContain('Backups are off on this server');
    expect(await page.getByRole('main').textContent()).toContain('--backup-dir DIR');
    expect((await asAdmin('GET', '/api/v1/backups')).error?.code).toBe('BACKUPS_DISABLED');
    // A state of the server, not a failure: no error toast.
    expect(await page.locator('.toast-error').count()).toBe(0);
    await context.close();
  });

  it('API docs: a description the server does not serve is an error toast and an explanation', async () => {
    const { page, context } = await openDashboard(browser, url, '/admin/overview', { credential: admin });
    // The description's request is sent to a path this server has no route for: its real 404.
    await page.route(`${url}/api/docs/openapi.json`, (route) => route.continue({ url: `${url}/api/docs/openapi-missing.json` }));
    await page.goto(`${url}/admin/api`);
    await expectErrorToast(page, 'NOT_FOUND');
    await expect.poll(() => page.getByRole('main').textContent()).toContain('The API description is not available');
    expect(await page.locator('.swagger-ui').count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });
});
