// The Cache section in a real browser against a real server: live stats, the
// policies editor (read back through the API), invalidation seen in the live
// feed, dependencies in the lists and the graph, server errors as toasts, deep
// links, accessibility and the README screenshot.

import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { apiJson, confirm, dashboardEnv, expectErrorToast, expectSuccessToast, launchBrowser, openDashboard, openSection, screenshot, seriousViolations, SKIP_BROWSER } from './browser.js';
import { profile, putRaw } from './kv-fixtures.js';

type Rule = { prefix: string; policy: string; read_through?: boolean };

describe.skipIf(SKIP_BROWSER)('dashboard: Cache', () => {
  let server: ServerProcess;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ shards: 2, env: dashboardEnv() }), launchBrowser()]);
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 40; i++) writes.push(putRaw(server.url, `user:${1000 + i}`, JSON.stringify(profile(1000 + i)), 'application/json', { tags: 'users' }));
    writes.push(putRaw(server.url, 'page:home', '<h1>Welcome back</h1>', 'text/html; charset=utf-8', { tags: 'pages' }));
    await Promise.all(writes);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  const open = async (path: string) => openDashboard(browser, server.url, path);
  const get = (key: string) => fetch(`${server.url}/api/v1/kv/${encodeURIComponent(key)}`).then((r) => r.arrayBuffer());
  const feedEntries = (page: Page) => page.locator('.feed-entry');
  const waitLive = (page: Page) => expect.poll(() => page.locator('.feed-status').textContent()).toBe('Live');

  it('shows cache stats per shard and refreshes them', async () => {
    const { page, context } = await open('/admin/overview');
    await openSection(page, 'Cache');
    const hits = page.locator('.stat', { hasText: 'Hits / misses' }).locator('.stat-value');
    await expect.poll(() => hits.textContent()).toMatch(/^[\d,]+ \/ [\d,]+$/);
    const first = (await hits.textContent()) ?? '';
    await expect.poll(() => page.getByRole('region', { name: 'Cache statistics per shard' }).locator('tbody tr').count()).toBe(2);
    // Reads through the API show up at the next refresh, without reloading the page.
    await Promise.all(Array.from({ length: 30 }, (_, i) => get(`user:${1001 + (i % 10)}`)));
    await expect.poll(() => hits.textContent(), { timeout: 10_000 }).not.toBe(first);
    const stats = await apiJson<{ total: { hits: number } }>(server.url, 'GET', '/api/v1/cache/stats');
    expect(stats.data.total.hits).toBeGreaterThanOrEqual(30);
    await context.close();
  });

  it('edits the policies and reads them back through the API; a bad rule shows the server\'s error', async () => {
    const { page, context } = await open('/admin/cache');
    const panel = page.getByRole('region', { name: 'Policies' });
    await panel.getByText('No rules: every key is write-through').waitFor();
    await panel.getByRole('button', { name: 'Add rule' }).click();
    await panel.getByLabel('Prefix of rule 1').fill('session:');
    await panel.getByLabel('Policy of rule 1').selectOption('cache-only');
    await panel.getByRole('button', { name: 'Add rule' }).click();
    await panel.getByLabel('Prefix of rule 2').fill('counter:');
    await panel.getByLabel('Policy of rule 2').selectOption('write-back');
    await panel.getByLabel('Read-through of rule 2').selectOption('off');
    await panel.getByRole('button', { name: 'Save policies' }).click();
    await expectSuccessToast(page, 'Saved 2 cache policies');
    const saved = await apiJson<{ policies: Rule[]; source: string }>(server.url, 'GET', '/api/v1/cache/policies');
    expect(saved.data.policies).toEqual([
      { prefix: 'session:', policy: 'cache-only' },
      { prefix: 'counter:', policy: 'write-back', read_through: false },
    ]);
    expect(saved.data.source).toBe('data-dir');

    // A prefix given twice: the server refuses, its code is shown, nothing changes.
    await panel.getByRole('button', { name: 'Add rule' }).click();
    await panel.getByLabel('Prefix of rule 3').fill('session:');
    await panel.getByRole('button', { name: 'Save policies' }).click();
    expect(await expectErrorToast(page, 'INVALID_PARAMETER')).toContain('appears twice');
    expect((await apiJson<{ policies: Rule[] }>(server.url, 'GET', '/api/v1/cache/policies')).data.policies).toHaveLength(2);

    // Remove a rule and save: read back.
    await panel.getByRole('button', { name: 'Remove rule 3 (session:)' }).click();
    await panel.getByRole('button', { name: 'Remove rule 1 (session:)' }).click();
    await panel.getByRole('button', { name: 'Save policies' }).click();
    await expectSuccessToast(page, 'Saved 1 cache policy');
    expect((await apiJson<{ policies: Rule[] }>(server.url, 'GET', '/api/v1/cache/policies')).data.policies).toEqual([{ prefix: 'counter:', policy: 'write-back', read_through: false }]);
    // After a reload the editor shows what the server holds.
    await page.reload();
    await expect.poll(() => panel.getByLabel('Prefix of rule 1').inputValue()).toBe('counter:');
    expect(await panel.getByLabel('Prefix of rule 2').count()).toBe(0);
    await context.close();
  });

  it('invalidates by key and by tag and shows the events in the live feed, newest first; pause holds new events', async () => {
    const { page, context } = await open('/admin/cache');
    await waitLive(page);
    const form = page.getByRole('region', { name: 'Invalidate' });
    await form.getByRole('radio', { name: 'Key' }).check();
    await form.locator('input[name="target-value"]').fill('user:1007');
    await form.getByRole('button', { name: 'Invalidate' }).click();
    await expectSuccessToast(page, /Invalidated \d+ cached/);
    // The stream's event (reason "explicit") beside the note of the request itself.
    await feedEntries(page).filter({ hasText: 'user:1007' }).locator('.badge', { hasText: 'explicit' }).waitFor();
    await feedEntries(page).filter({ hasText: 'invalidate key user:1007' }).waitFor();

    // By tag: the request itself and the tagged key's event.
    await form.getByRole('radio', { name: 'Tag' }).check();
    await form.locator('input[name="target-value"]').fill('pages');
    await form.getByRole('button', { name: 'Invalidate' }).click();
    await expectSuccessToast(page, /Invalidated/);
    await expect.poll(() => feedEntries(page).allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('invalidate tag pages'), expect.stringContaining('page:home')]));

    // A write through the API appears too; while paused it waits.
    await page.getByRole('button', { name: 'Pause' }).click();
    await putRaw(server.url, 'user:1001', JSON.stringify(profile(1001)), 'application/json');
    await expect.poll(() => page.locator('.feed-status').textContent()).toBe('Paused (1 new)');
    expect(await feedEntries(page).first().textContent()).not.toContain('user:1001');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => feedEntries(page).first().textContent()).toContain('user:1001');
    expect(await feedEntries(page).first().locator('.badge').textContent()).toBe('write');
    // Newest first: the write came after the invalidations.
    const texts = await feedEntries(page).allTextContents();
    expect(texts.findIndex((t) => t.includes('user:1001'))).toBeLessThan(texts.findIndex((t) => t.includes('user:1007')));
    await context.close();
  });

  it('adds a dependency (seen in the lists, the graph and the API), follows it in the graph and removes it', async () => {
    const { page, context } = await open('/admin/cache');
    const deps = page.getByRole('region', { name: 'Dependencies' });
    // A key cannot depend on itself: the server says so.
    await deps.locator('input[name="parent"]').fill('user:1002');
    await deps.locator('input[name="child"]').fill('user:1002');
    await deps.getByRole('button', { name: 'Add', exact: true }).click();
    expect(await expectErrorToast(page, 'INVALID_PARAMETER')).toContain('cannot depend on itself');

    await deps.locator('input[name="child"]').fill('page:home');
    await deps.getByRole('button', { name: 'Add', exact: true }).click();
    await expectSuccessToast(page, 'page:home now depends on user:1002');
    const children = await apiJson<{ children: string[] }>(server.url, 'GET', '/api/v1/cache/dependencies?parent=user%3A1002');
    expect(children.data.children).toEqual(['page:home']);
    await expect.poll(() => new URL(page.url()).searchParams.get('dep')).toBe('user:1002');
    const childList = deps.getByRole('region', { name: 'Children of user:1002' });
    await expect.poll(() => childList.getByRole('link').allTextContents()).toEqual(['page:home']);
    const graph = deps.locator('svg.dep-graph');
    await expect.poll(() => graph.locator('a.dep-node.center').textContent()).toContain('user:1002');
    expect(await graph.locator('a.dep-node.side').allTextContents()).toEqual([expect.stringContaining('page:home')]);

    // The graph's nodes navigate: page:home's parents now include user:1002.
    await graph.locator('a.dep-node.side', { hasText: 'page:home' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('dep')).toBe('page:home');
    const parentList = deps.getByRole('region', { name: 'Parents of page:home' });
    await expect.poll(() => parentList.getByRole('link').allTextContents()).toEqual(['user:1002']);

    // Removing asks first.
    await parentList.getByRole('button', { name: 'Remove the dependency with user:1002' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Removed user:1002 → page:home');
    await expect.poll(async () => (await apiJson<{ children: string[] }>(server.url, 'GET', '/api/v1/cache/dependencies?parent=user%3A1002')).data.children).toEqual([]);
    await expect.poll(() => parentList.getByText('No parents').count()).toBe(1);
    await context.close();
  });

  it('keeps the view on reload of a deep link, passes axe, and takes the README screenshot', async () => {
    // Realistic state: policies, a small dependency web, traffic with hits and misses.
    await apiJson(server.url, 'PUT', '/api/v1/cache/policies', {
      policies: [
        { prefix: 'session:', policy: 'cache-only' },
        { prefix: 'counter:', policy: 'write-back' },
        { prefix: 'images/', policy: 'write-around' },
        { prefix: 'user:', policy: 'read-through' },
      ],
    });
    for (const [parent, child] of [
      ['user:1010', 'page:profile/1010'],
      ['user:1010', 'feed:1010'],
      ['user:1010', 'page:home'],
      ['org:7', 'user:1010'],
      ['config/feature-flags', 'user:1010'],
    ]) await apiJson(server.url, 'POST', '/api/v1/cache/dependencies', { parent, child });
    await Promise.all(Array.from({ length: 120 }, (_, i) => get(`user:${1001 + (i % 45)}`)));

    // A trickle of reads while the page is open, so the live rate is not zero.
    let reading = true;
    const trickle = (async () => {
      for (let i = 0; reading; i++) {
        await Promise.all([get(`user:${1001 + (i % 40)}`), get(`user:${1001 + ((i * 7) % 40)}`), get(`missing:${i % 5}`)]);
        await new Promise((r) => setTimeout(r, 100));
      }
    })().catch(() => undefined);
    onTestFinished(() => {
      reading = false;
    });
    const { page, context } = await open(`/admin/cache?dep=${encodeURIComponent('user:1010')}&feed=${encodeURIComponent('user:')}`);
    await waitLive(page);
    const deps = page.getByRole('region', { name: 'Dependencies' });
    await expect.poll(() => deps.locator('svg.dep-graph a.dep-node').count()).toBe(6);
    await page.reload();
    expect(await deps.locator('input[name="dep"]').inputValue()).toBe('user:1010');
    expect(await page.locator('input[name="feed-prefix"]').inputValue()).toBe('user:');
    await expect.poll(() => deps.locator('svg.dep-graph a.dep-node').count()).toBe(6);
    await expect.poll(() => deps.getByRole('region', { name: 'Parents of user:1010' }).getByRole('link').allTextContents().then((keys) => keys.sort())).toEqual(['config/feature-flags', 'org:7']);
    await waitLive(page);

    // Some live traffic for the feed (filtered to user:): writes, an invalidation, a delete.
    for (let i = 0; i < 6; i++) await putRaw(server.url, `user:${1020 + i}`, JSON.stringify(profile(1020 + i)), 'application/json');
    await apiJson(server.url, 'POST', '/api/v1/cache/invalidate', { key: 'user:1010' });
    await fetch(`${server.url}/api/v1/kv/user%3A1040`, { method: 'DELETE' });
    await putRaw(server.url, 'session:hidden-by-filter', '{}', 'application/json');
    await expect.poll(() => feedEntries(page).count()).toBeGreaterThanOrEqual(8);
    expect(await feedEntries(page).allTextContents()).not.toEqual(expect.arrayContaining([expect.stringContaining('session:')]));
    // Let the stats poll twice so the rate card has a line.
    await expect.poll(() => page.locator('.sparkline').count(), { timeout: 15_000 }).toBe(1);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'cache');
    reading = false;
    await trickle;
    await context.close();
  });
});
