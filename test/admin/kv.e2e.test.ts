// The Key-value section in a real browser against a real server: values shown
// by content type (JSON, text, PNG, hex), cursor paging, create / edit /
// expire / delete through the UI checked through the API, server errors as
// toasts, deep links, accessibility and the README screenshot.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { confirm, dashboardEnv, expectErrorToast, expectSuccessToast, launchBrowser, openDashboard, openSection, screenshot, seriousViolations, SKIP_BROWSER } from './browser.js';
import { avatarPng, getRaw, profile, putRaw } from './kv-fixtures.js';

describe.skipIf(SKIP_BROWSER)('dashboard: Key-value', () => {
  let server: ServerProcess;
  let browser: Browser;
  const binary = Uint8Array.from({ length: 10_240 }, (_, i) => (i * 37 + 11) & 0xff);

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ shards: 2, env: dashboardEnv() }), launchBrowser()]);
    const url = server.url;
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 24; i++) writes.push(putRaw(url, `user:${1000 + i}`, JSON.stringify(profile(1000 + i)), 'application/json'));
    const paths = ['/pricing', '/docs/kv', '/blog/cache-policies', '/signup'];
    for (let i = 0; i < 60; i++) writes.push(putRaw(url, `visit:${String(i).padStart(3, '0')}`, JSON.stringify({ path: paths[i % 4], ms: 40 + ((i * 37) % 200) }), 'application/json'));
    for (let i = 0; i < 4; i++) writes.push(putRaw(url, `session:7f3c${i}e2a-41d9`, JSON.stringify({ user: 1001 + i, ip: `10.0.0.${i + 2}` }), 'application/json', { ttl: String(900 + i * 600) }));
    writes.push(
      putRaw(url, 'config/feature-flags', JSON.stringify({ new_checkout: true, dark_mode: 'beta', max_upload_mb: 50, regions: ['eu-west-1', 'us-east-1'] }), 'application/json'),
      putRaw(url, 'motd', 'Scheduled maintenance on Sunday 02:00–03:00 UTC.\nWrites pause for about five minutes.', 'text/plain; charset=utf-8'),
      putRaw(url, 'images/avatar/ada.png', avatarPng(96), 'image/png'),
      putRaw(url, 'blob:thumbnail-cache', binary, 'application/octet-stream'),
      putRaw(url, 'counter:visits', '48213', 'text/plain'),
    );
    await Promise.all(writes);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  const open = async (path: string) => openDashboard(browser, server.url, path);
  const valueTitle = (page: Page) => page.locator('.kv-value-title');

  it('shows JSON pretty-printed, text, a PNG image and binary as a hex dump', async () => {
    const { page, context, errors } = await open('/admin/overview');
    await openSection(page, 'Key-value');
    await page.getByLabel(/^Prefix/).fill('user:');
    await page.getByRole('link', { name: 'user:1003', exact: true }).click();
    await expect.poll(() => valueTitle(page).textContent()).toBe('user:1003');
    const json = page.locator('.json-view');
    await expect.poll(() => json.textContent()).toContain('"name": "Edsger Dijkstra"');
    // Pretty-printed: nested objects on their own indented lines.
    expect(await json.textContent()).toContain('\n  "preferences": {\n    "theme"');
    await expect.poll(() => page.locator('.kv-meta').textContent()).toContain('application/json');

    await page.goto(`${server.url}/admin/kv?key=motd`);
    await expect.poll(() => page.locator('pre.kv-text').textContent()).toBe('Scheduled maintenance on Sunday 02:00–03:00 UTC.\nWrites pause for about five minutes.');

    await page.goto(`${server.url}/admin/kv?key=${encodeURIComponent('images/avatar/ada.png')}`);
    const img = page.getByRole('img', { name: 'Image stored at images/avatar/ada.png' });
    await img.waitFor();
    expect(await img.getAttribute('src')).toMatch(/^blob:/);
    // Decoded by the browser: the bytes arrived intact.
    await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth)).toBe(96);
    await expect.poll(() => page.locator('.kv-figure figcaption').textContent()).toContain('96 × 96 px');

    await page.goto(`${server.url}/admin/kv?key=${encodeURIComponent('blob:thumbnail-cache')}`);
    const hex = page.locator('pre.kv-hex');
    await expect.poll(() => hex.textContent()).toMatch(/^00000000 {2}0b 30 55 7a 9f c4 e9 0e {2}33 58 7d a2 c7 ec 11 36 {2}\|\.0Uz\.\.\.\.3X\}\.\.\.\.6\|/);
    // Capped: 4 KiB of 10 KiB shown, and the page says so.
    expect((await hex.textContent())?.split('\n')).toHaveLength(256);
    await expect.poll(() => page.locator('.kv-view').textContent()).toContain('Showing the first 4,096 of 10,240 bytes');
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });

  it('pages through more keys than one page holds, with cursors kept in the URL', async () => {
    const { page, context } = await open('/admin/kv?prefix=visit:&limit=25');
    const rows = page.locator('.kv-keys tbody tr');
    await expect.poll(() => rows.count()).toBe(25);
    await expect.poll(() => page.locator('.kv-count').textContent()).toContain('Keys 1–25 of 60');
    await page.getByRole('button', { name: 'Next →' }).click();
    await expect.poll(() => rows.first().textContent()).toContain('visit:025');
    await expect.poll(() => page.locator('.kv-count').textContent()).toContain('Keys 26–50 of 60');
    expect(new URL(page.url()).searchParams.get('cursors')).not.toBeNull();
    // A reload on page 2 stays on page 2.
    await page.reload();
    await expect.poll(() => rows.first().textContent()).toContain('visit:025');
    await page.getByRole('button', { name: 'Next →' }).click();
    await expect.poll(() => rows.count()).toBe(10);
    expect(await rows.last().textContent()).toContain('visit:059');
    expect(await page.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Previous' }).click();
    await expect.poll(() => rows.first().textContent()).toContain('visit:025');
    await context.close();
  });

  it('creates, edits, expires and deletes a key through the UI (checked through the API)', async () => {
    // '/', ':', a space and non-ASCII: one path segment, percent-encoded.
    const key = 'orders/2026:7 → café';
    const { page, context } = await open('/admin/kv');
    await page.getByRole('button', { name: 'New key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New key' });
    await dialog.locator('input[name="key"]').fill(key);
    await dialog.locator('input[name="content-type"]').fill('application/json');
    await dialog.getByRole('textbox', { name: 'Value', exact: true }).fill('{"total": 42, "items": ["tea"]}');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    await expectSuccessToast(page, `Saved ${key}`);
    await expect.poll(() => valueTitle(page).textContent()).toBe(key);
    let stored = await getRaw(server.url, key);
    expect(stored.status).toBe(200);
    expect(stored.contentType).toBe('application/json');
    expect(JSON.parse(stored.body.toString('utf8'))).toEqual({ total: 42, items: ['tea'] });
    expect(stored.expiresAt).toBeNull();
    expect(new URL(page.url()).searchParams.get('key')).toBe(key);

    // Edit: the value is loaded into the editor (pretty-printed), changed and saved.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const edit = page.getByRole('dialog', { name: `Edit ${key}` });
    const editor = edit.getByRole('textbox', { name: 'Value', exact: true });
    expect(await editor.inputValue()).toContain('"total": 42');
    await editor.fill('{"total": 43, "items": ["tea", "scone"]}');
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    await expectSuccessToast(page, `Saved ${key}`);
    await expect.poll(async () => JSON.parse((await getRaw(server.url, key)).body.toString('utf8'))).toEqual({ total: 43, items: ['tea', 'scone'] });
    await expect.poll(() => page.locator('.json-view').textContent()).toContain('"scone"');

    // Expiry: set 10 minutes, seen through the API; then removed.
    await page.getByRole('button', { name: 'Expiry…' }).click();
    const expiry = page.getByRole('dialog', { name: `Expiry of ${key}` });
    await expiry.locator('input[name="ttl"]').fill('600');
    const before = Date.now();
    await expiry.getByRole('button', { name: 'Set expiry' }).click();
    await expectSuccessToast(page, `${key} expires at`);
    stored = await getRaw(server.url, key);
    expect(stored.expiresAt).not.toBeNull();
    const left = Date.parse(stored.expiresAt as string) - before;
    expect(left).toBeGreaterThan(590_000);
    expect(left).toBeLessThan(620_000);
    expect(JSON.parse(stored.body.toString('utf8'))).toEqual({ total: 43, items: ['tea', 'scone'] });
    await expect.poll(() => page.locator('.kv-meta').textContent()).toMatch(/in (10m|9m \d+s)/);
    await page.getByRole('button', { name: 'Expiry…' }).click();
    await page.getByRole('dialog', { name: `Expiry of ${key}` }).getByRole('button', { name: 'Remove expiry' }).click();
    await expectSuccessToast(page, `${key} no longer expires`);
    expect((await getRaw(server.url, key)).expiresAt).toBeNull();

    // Delete asks first.
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await confirm(page);
    await expectSuccessToast(page, `Deleted ${key}`);
    expect((await getRaw(server.url, key)).status).toBe(404);
    expect(new URL(page.url()).searchParams.get('key')).toBeNull();
    await context.close();
  });

  it('shows the server\'s error code for a key that is too long and for a bad TTL', async () => {
    const { page, context } = await open('/admin/kv');
    await page.getByRole('button', { name: 'New key' }).click();
    const dialog = page.getByRole('dialog', { name: 'New key' });
    await dialog.locator('input[name="key"]').fill('k'.repeat(1100));
    await dialog.locator('input[name="content-type"]').fill('text/plain');
    await dialog.getByRole('textbox', { name: 'Value', exact: true }).fill('hello');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    expect(await expectErrorToast(page, 'KEY_TOO_LARGE')).toContain('the limit is 1024');
    await dialog.locator('input[name="key"]').fill('greeting');
    await dialog.locator('input[name="ttl"]').fill('soon');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    await expectErrorToast(page, 'INVALID_TTL');
    // Nothing was written, and the dialog is still open to fix the input.
    expect((await getRaw(server.url, 'greeting')).status).toBe(404);
    expect(await dialog.isVisible()).toBe(true);
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });

  it('keeps the view on reload of a deep link, passes axe, and takes the README screenshot', async () => {
    const { page, context } = await open(`/admin/kv?prefix=${encodeURIComponent('user:')}&key=${encodeURIComponent('user:1005')}&view=text`);
    await expect.poll(() => valueTitle(page).textContent()).toBe('user:1005');
    const textTab = page.getByRole('tab', { name: 'Text' });
    await expect.poll(() => textTab.getAttribute('aria-selected')).toBe('true');
    await page.reload();
    await expect.poll(() => valueTitle(page).textContent()).toBe('user:1005');
    await expect.poll(() => page.getByRole('tab', { name: 'Text' }).getAttribute('aria-selected')).toBe('true');
    expect(await page.getByLabel(/^Prefix/).inputValue()).toBe('user:');
    await expect.poll(() => page.locator('.kv-keys tbody tr').count()).toBe(24);
    expect(await seriousViolations(page)).toEqual([]);

    // The screenshot: every kind of key in the list, a JSON value open.
    await page.goto(`${server.url}/admin/kv?key=${encodeURIComponent('user:1001')}`);
    await expect.poll(() => page.locator('.json-view').textContent()).toContain('Grace Hopper');
    await expect.poll(() => page.locator('.kv-keys tbody tr td:nth-child(3)').allTextContents()).not.toContain('…');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'kv');
    await context.close();
  });
});
