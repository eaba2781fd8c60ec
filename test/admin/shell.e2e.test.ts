// The dashboard's shell in a real browser: served by the server at /admin
// ("/" redirects there), static files with their content types and cache
// headers, deep links, navigation by keyboard.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { dashboardEnv, launchBrowser, openDashboard, screenshot, SKIP_BROWSER } from './browser.js';

describe.skipIf(SKIP_BROWSER)('dashboard shell', () => {
  let server: ServerProcess;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ shards: 2, env: dashboardEnv() }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  it('opens on / and lands on the overview', async () => {
    const { page, context } = await openDashboard(browser, server.url, '/');
    await page.waitForURL(/\/admin\/overview$/);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe('Overview');
    await screenshot(page, 'shell');
    await context.close();
  });
});
