// The dashboard as a whole, in Chromium against a real server: the Overview's
// live charts under load, every section reachable from the navigation and by
// keyboard, deep links surviving a reload, no unfinished-work text on any
// rendered page, axe-core on every section, and a permission failure shown
// as an error toast with the server's code.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { createRole, createUser, login, startAuthServer } from '../helpers/auth-support.js';
import { BANNED, dashboardEnv, expectErrorToast, launchBrowser, openDashboard, openSection, screenshot, seriousViolations, SKIP_BROWSER } from './browser.js';

const SECTIONS = [
  ['overview', 'Overview'],
  ['kv', 'Key-value'],
  ['cache', 'Cache'],
  ['documents', 'Documents'],
  ['tables', 'Tables'],
  ['sql', 'SQL'],
  ['transactions', 'Transactions'],
  ['storage', 'Storage'],
  ['api', 'API docs'],
  ['settings', 'Settings'],
  ['auth', 'Auth'],
] as const;

/** Keeps a steady mix of writes, cached reads and misses going until stopped. */
function load(base: string): { stop: () => Promise<void> } {
  let running = true;
  const worker = async (n: number) => {
    let i = 0;
    while (running) {
      const key = `load:${n}:${i++ % 50}`;
      await fetch(`${base}/api/v1/kv/${key}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n, i }) }).then((r) => r.arrayBuffer());
      await fetch(`${base}/api/v1/kv/${key}`).then((r) => r.arrayBuffer());
      await fetch(`${base}/api/v1/kv/load:missing:${i}`).then((r) => r.arrayBuffer());
      await new Promise((ok) => setTimeout(ok, 5));
    }
  };
  const workers = [0, 1, 2].map(worker);
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

async function visibleText(page: Page): Promise<string> {
  return page.evaluate('document.body.innerText') as Promise<string>;
}

async function settle(page: Page): Promise<void> {
  // Sections show a loading indicator while a request runs; wait until none is left. (Polled from
  // here: the page's CSP refuses the string evaluation waitForFunction would use.)
  await expect.poll(() => page.locator('.loading').count(), { timeout: 15_000 }).toBe(0);
}

describe.skipIf(SKIP_BROWSER)('dashboard', () => {
  let server: ServerProcess;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ shards: 2, env: dashboardEnv() }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  it('draws live charts on the Overview, seeded from the history and moving with the stream', async () => {
    const traffic = load(server.url);
    try {
      // Let the history hold a few seconds of load before the page opens.
      await new Promise((ok) => setTimeout(ok, 3000));
      const { page, context, errors } = await openDashboard(browser, server.url, '/admin/overview');
      await expect.poll(() => page.locator('.uplot').count(), { timeout: 15_000 }).toBe(6);
      await expect.poll(() => page.getByText('streaming', { exact: true }).count(), { timeout: 10_000 }).toBe(1);
      // The requests figure comes from the stream: non-zero under this load.
      const stat = (label: string) => page.locator('.stat').filter({ has: page.locator('.stat-label', { hasText: new RegExp(`^${label}$`) }) }).locator('.stat-value');
      const requests = stat('Requests');
      await expect.poll(async () => Number.parseFloat(((await requests.textContent()) ?? '0').replace(/,/g, '')), { timeout: 10_000 }).toBeGreaterThan(0);
      const hitRate = stat('Cache hit rate');
      await expect.poll(async () => (await hitRate.textContent()) ?? '', { timeout: 10_000 }).toMatch(/%$/);
      // Both shards in the health table, ready.
      const shardRows = page.getByRole('region', { name: 'Shard health' }).locator('tbody tr');
      await expect.poll(() => shardRows.count()).toBe(2);
      expect(await shardRows.first().textContent()).toContain('ready');
      // Points keep arriving: the latency chart's legend shows a value.
      await expect.poll(() => page.getByRole('figure', { name: 'Requests and errors per second' }).locator('.u-legend .u-value').nth(1).textContent()).not.toBe('–');
      await page.waitForTimeout(1500);
      await screenshot(page, 'overview');
      expect(await seriousViolations(page)).toEqual([]);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await traffic.stop();
    }
  });

  it('reaches every section from the navigation; each survives a reload, passes axe and shows no unfinished-work text', async () => {
    const { page, context } = await openDashboard(browser, server.url, '/admin/overview');
    for (const [id, title] of SECTIONS) {
      await openSection(page, title);
      expect(new URL(page.url()).pathname).toBe(`/admin/${id}`);
      await expect.poll(() => page.getByRole('link', { name: title, exact: true }).getAttribute('aria-current')).toBe('page');
      await settle(page);
      const banned = BANNED.exec(await visibleText(page));
      expect(banned === null ? null : `${title}: ${banned[0]}`).toBeNull();
      expect(await seriousViolations(page), title).toEqual([]);
      await page.reload();
      await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe(title);
      expect(await page.title()).toBe(`${title} · MantisDB`);
    }
    // Browser history: back returns to the previous section.
    await page.goBack();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe(SECTIONS[SECTIONS.length - 2][1]);
    // An unknown section lands on the Overview.
    await page.goto(`${server.url}/admin/no-such-section`);
    await page.waitForURL(/\/admin\/overview$/);
    await context.close();
  });

  it('works from the keyboard: skip link, then the navigation', async () => {
    const { page, context } = await openDashboard(browser, server.url, '/admin/overview');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab'); // Overview
    await page.keyboard.press('Tab'); // Key-value
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Key-value');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe('Key-value');
    expect(new URL(page.url()).pathname).toBe('/admin/kv');
    await context.close();
  });
});

describe.skipIf(SKIP_BROWSER)('dashboard with auth on', () => {
  let server: ServerProcess;
  let browser: Browser;
  let admin = '';
  beforeAll(async () => {
    [server, browser] = await Promise.all([startAuthServer({ shards: 1, env: dashboardEnv() }), launchBrowser()]);
    const { ADMIN_PASSWORD } = await import('../helpers/auth-support.js');
    admin = await login(server.url, 'admin', ADMIN_PASSWORD);
    await createRole(server.url, admin, 'kv-reader', [{ resource: 'kv:', actions: ['read'] }]);
    await createUser(server.url, admin, 'viewer', 'viewer-password-1', ['kv-reader']);
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  it('asks to sign in, and shows a refused request as an error toast with the server code', async () => {
    const { page, context } = await openDashboard(browser, server.url, '/admin/overview');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // A wrong password: the server's code in a toast.
    await page.getByLabel('Username').fill('viewer');
    await page.getByLabel('Password').fill('wrong-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refused = await expectErrorToast(page, 'UNAUTHORIZED');
    expect(refused.length).toBeGreaterThan('UNAUTHORIZED'.length);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Password').fill('viewer-password-1');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe('Overview');
    // The viewer may read keys but not metrics: the history is refused with FORBIDDEN.
    const toast = await expectErrorToast(page, 'FORBIDDEN');
    expect(toast).toMatch(/admin/);
    await screenshot(page, 'error-toast');
    // The deep link survives a reload (the credential is kept for the tab).
    await page.goto(`${server.url}/admin/kv`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe('Key-value');
    // Signing out returns to the form.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await context.close();
  });
});
