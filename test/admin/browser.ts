// End-to-end support for the dashboard's tests: Debian's Chromium driven by
// playwright-core against a real server process (test/helpers/server-process.ts).
// Without Chromium a developer machine skips these suites; under CI (CI set)
// a missing Chromium fails them (.ci/run installs it with apt-get).

import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Words that mark unfinished work; none may appear in the bundle or on a rendered page. */
export const BANNED = /coming soon|\btodo\b|lorem ipsum|\blorem\b|placeholder|not implemented|\bfixme\b|\btbd\b|under construction/i;

export const CHROMIUM_PATH = process.env.MANTIS_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);
export const UNDER_CI = Boolean(process.env.CI);
/** describe.skipIf(SKIP_BROWSER): skipped only on a machine without Chromium outside CI. */
export const SKIP_BROWSER = !HAVE_CHROMIUM && !UNDER_CI;

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const SCREENSHOT_DIR = join(ROOT, 'test-results', 'admin');

/** The flags this machine needs: no sandbox (root), no GPU, nothing that reaches outside hosts. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * The server's environment for a dashboard test: MANTIS_ADMIN_DIR passes through when set (a build
 * elsewhere, made with MANTIS_ADMIN_OUT=… node admin/build.mjs), since the helper drops MANTIS_* variables.
 */
export function dashboardEnv(extra: Record<string, string> = {}): Record<string, string> {
  const dir = process.env.MANTIS_ADMIN_DIR;
  return { ...(dir === undefined ? {} : { MANTIS_ADMIN_DIR: dir }), ...extra };
}

export async function launchBrowser(): Promise<Browser> {
  if (!HAVE_CHROMIUM) throw new Error(`Chromium is not at ${CHROMIUM_PATH}, and CI is set: the dashboard's browser tests must run (.ci/run installs the chromium package)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

export type DashboardPage = {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Uncaught page errors and console errors seen so far (a failed request the test provoked is a console error too). */
  readonly errors: string[];
};

/**
 * A fresh context (its own sessionStorage and cookies) on the dashboard. With `credential`, the tab
 * starts signed in with that bearer token or API key.
 */
export async function openDashboard(browser: Browser, baseUrl: string, path = '/admin/overview', options: { credential?: string } = {}): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, baseURL: baseUrl });
  if (options.credential !== undefined) {
    await context.addInitScript({ content: `sessionStorage.setItem('mantis.credential', ${JSON.stringify(options.credential)});` });
  }
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  await page.goto(baseUrl + path);
  return { page, context, errors };
}

/** Navigates with the sidebar, as a user would. */
export async function openSection(page: Page, title: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: title, exact: true }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).first().textContent()).toBe(title);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  // The viewport is grown to the page (up to 1800 px) rather than a fullPage capture, which draws
  // the sticky sidebar at the wrong place.
  const size = page.viewportSize() ?? { width: 1400, height: 900 };
  const height = Math.min(1800, Math.max(size.height, (await page.evaluate('document.documentElement.scrollHeight')) as number));
  await page.setViewportSize({ width: size.width, height });
  await page.waitForTimeout(150);
  await page.screenshot({ path });
  await page.setViewportSize(size);
  return path;
}

/** Waits for an error toast carrying this server error code; returns its text. */
export async function expectErrorToast(page: Page, code: string): Promise<string> {
  const toast = page.locator(`.toast-error[data-code="${code}"]`).first();
  await toast.waitFor({ state: 'visible' });
  return (await toast.textContent()) ?? '';
}

/** Waits for a success toast whose text contains `text`. */
export async function expectSuccessToast(page: Page, text: string | RegExp): Promise<void> {
  await page.locator('.toast-success', { hasText: text }).first().waitFor({ state: 'visible' });
}

/** Answers the confirmation dialog of a destructive action. */
export async function confirm(page: Page): Promise<void> {
  await page.getByTestId('confirm').click();
}

/** axe-core (WCAG 2 A/AA rules): the serious and critical violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

/** The server's JSON envelope from a route, for checking what the dashboard did through the API. */
export async function apiJson<T = unknown>(baseUrl: string, method: string, path: string, body?: unknown, credential?: string): Promise<{ status: number; data: T; error?: { code: string; message: string } }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (credential !== undefined) headers.authorization = `Bearer ${credential}`;
  const response = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const parsed = text === '' ? {} : (JSON.parse(text) as { data: T; error?: { code: string; message: string } });
  return { status: response.status, data: (parsed as { data: T }).data, ...((parsed as { error?: { code: string; message: string } }).error === undefined ? {} : { error: (parsed as { error: { code: string; message: string } }).error }) };
}
