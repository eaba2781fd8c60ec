// The Transactions, Storage and Settings sections in a real browser against a
// real server (auth off, backups and the WAL archive on, small memtables so
// the seed data reaches SST files on two LSM levels): what the UI does is
// checked through the API, server errors show as toasts with their code,
// deep links survive a reload, axe finds nothing serious, and the README
// screenshots are taken with real data on screen.

import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cleanup, makeDataDir, startServer, type ServerProcess } from '../helpers/server-process.js';
import { apiJson, confirm, dashboardEnv, expectErrorToast, expectSuccessToast, launchBrowser, openDashboard, openSection, screenshot, seriousViolations, SKIP_BROWSER } from './browser.js';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Backup = { id: string; incremental: boolean; base: string | null; bytes: number };
type Rule = { name: string; metric: string; op: string; value: number; for_s: number; severity: string; description?: string };

describe.skipIf(SKIP_BROWSER)('dashboard: Transactions, Storage, Settings', () => {
  let server: ServerProcess;
  let browser: Browser;
  let url: string;

  /** A counter or gauge summed over its series, from the Prometheus text. */
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const text = await (await fetch(`${url}/api/metrics/prometheus`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (Object.entries(labels).some(([k, v]) => !line.includes(`${k}="${v}"`))) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
  const execute = (operations: unknown[], conditions?: unknown[]) => apiJson(url, 'POST', '/api/v1/txn/execute', { operations, ...(conditions === undefined ? {} : { conditions }) });
  const kvText = async (key: string): Promise<string> => (await fetch(`${url}/api/v1/kv/${encodeURIComponent(key)}`)).text();

  beforeAll(async () => {
    const backupDir = makeDataDir();
    const archiveDir = makeDataDir();
    [server, browser] = await Promise.all([
      startServer({ shards: 2, fsync: 'none', extraArgs: ['--backup-dir', backupDir, '--wal-archive', archiveDir, '--memory-budget-mb', '4'], env: dashboardEnv() }),
      launchBrowser(),
    ]);
    url = server.url;
    // Orders with incompressible payloads: about 4 MB, so each shard flushes memtables into SST files.
    for (let batch = 0; batch < 4; batch++) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({
        op: 'put',
        key: `order:${String(batch * 1000 + i).padStart(5, '0')}`,
        value: JSON.stringify({ id: batch * 1000 + i, customer: `c-${(i * 7919) % 500}`, total_cents: (i * 104_729) % 90_000, items: randomBytes(300).toString('base64') }),
      }));
      const reply = await apiJson(url, 'POST', '/api/v1/kv/batch', { ops });
      expect(reply.status).toBe(200);
    }
    // Some transaction history: transfers, a failed condition.
    for (let i = 0; i < 12; i++) await execute([{ op: 'put', key: `acct:${i % 4}`, value: String(1000 - i * 10) }, { op: 'put', key: `ledger:${i}`, value: `transfer ${i}` }]);
    await execute([{ op: 'put', key: 'acct:0', value: '1' }], [{ key: 'acct:0', value: 'not-this' }]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  /** Toasts cover part of the page: dismissed before a screenshot. */
  const clearToasts = async (page: Page): Promise<void> => {
    const buttons = page.getByRole('button', { name: 'Dismiss notification' });
    for (let i = 0; i < 10 && (await buttons.count()) > 0; i++) await buttons.first().click({ timeout: 2000 }).catch(() => undefined);
  };
  const statValue = (page: Page, label: string) => page.locator('.stat', { has: page.locator('.stat-label', { hasText: label }) }).locator('.stat-value');

  it('Transactions: runs atomic and interactive transactions, shows counters move and a conflict', async () => {
    const { page, context, errors } = await openDashboard(browser, url, '/admin/overview');
    await openSection(page, 'Transactions');
    const committedBefore = await metric('mantis_txn_commits_total');
    await expect.poll(async () => Number((await statValue(page, 'Committed').textContent())?.replace(/,/g, ''))).toBe(committedBefore);

    // An atomic transaction of two writes and a read, through the form.
    await page.getByLabel('Operation 1 key').fill('acct:alice');
    await page.getByLabel('Operation 1 value').fill('100');
    await page.getByRole('button', { name: 'Add operation' }).click();
    await page.getByLabel('Operation 2 key').fill('acct:bob');
    await page.getByLabel('Operation 2 value').fill('50');
    await page.getByRole('button', { name: 'Add operation' }).click();
    await page.getByLabel('Operation 3', { exact: true }).selectOption('get');
    await page.getByLabel('Operation 3 key').fill('acct:1');
    await page.getByRole('button', { name: 'Run transaction' }).click();
    await expectSuccessToast(page, /Transaction committed at \d+/);
    expect(await kvText('acct:alice')).toBe('100');
    expect(await kvText('acct:bob')).toBe('50');
    await expect.poll(() => page.locator('.txn-result').textContent()).toContain('found');
    expect(await metric('mantis_txn_commits_total')).toBe(committedBefore + 1);
    await expect.poll(async () => Number((await statValue(page, 'Committed').textContent())?.replace(/,/g, '')), { timeout: 10_000 }).toBe(committedBefore + 1);

    // A failed condition is a server error with its code.
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Condition 1 key').fill('acct:alice');
    await page.getByLabel('Condition 1 expected value').fill('999');
    await page.getByRole('button', { name: 'Run transaction' }).click();
    const toast = await expectErrorToast(page, 'TXN_CONFLICT');
    expect(toast).toContain('acct:alice');
    await page.getByRole('button', { name: 'Remove condition 1' }).click();

    // Interactive: begin here, write in it, let another transaction commit the same key first.
    // Nothing is open now (the gauge may lag the last transaction's end by its publish interval).
    await expect.poll(() => metric('mantis_txn_active')).toBe(0);
    const openBefore = 0;
    await page.getByRole('button', { name: 'Begin transaction' }).click();
    await expectSuccessToast(page, /Transaction .+ begun/);
    // The gauge is published when transactions begin and end (and on a timer): polled.
    await expect.poll(() => metric('mantis_txn_active')).toBe(openBefore + 1);
    await expect.poll(() => statValue(page, 'Open now').textContent(), { timeout: 10_000 }).toBe(String(openBefore + 1));
    const runIn = page.getByLabel('Run in');
    await expect.poll(() => runIn.inputValue()).not.toBe('atomic');
    const txnId = await runIn.inputValue();
    expect(new URL(page.url()).searchParams.get('run_in')).toBe(txnId);
    await page.getByLabel('Operation 1 key').fill('acct:alice');
    await page.getByLabel('Operation 1 value').fill('90');
    await page.getByLabel('Operation 2 key').fill('');
    await page.getByLabel('Operation 3 key').fill('');
    await page.getByRole('button', { name: 'Run in transaction' }).click();
    await expectSuccessToast(page, `in ${txnId}`);
    // Invisible to others until the commit.
    expect(await kvText('acct:alice')).toBe('100');
    expect((await execute([{ op: 'put', key: 'acct:alice', value: '75' }])).status).toBe(200);
    const writeConflictsBefore = await metric('mantis_txn_aborts_total', { reason: 'write' });
    await page.getByRole('row', { name: new RegExp(escape(txnId)) }).getByRole('button', { name: 'Commit' }).click();
    await expectErrorToast(page, 'TXN_CONFLICT');
    expect(await metric('mantis_txn_aborts_total', { reason: 'write' })).toBe(writeConflictsBefore + 1);
    expect(await kvText('acct:alice')).toBe('75');
    await expect.poll(() => page.getByRole('row', { name: new RegExp(escape(txnId)) }).textContent()).toContain('failed TXN_CONFLICT');
    await expect.poll(() => page.getByRole('region', { name: 'Aborted transactions by reason' }).textContent(), { timeout: 10_000 }).toContain('write conflict');

    // Traffic for the rate chart: commits, and a few more conflicts.
    for (let i = 0; i < 15; i++) {
      await execute([{ op: 'put', key: `acct:${i % 3}`, value: String(i) }]);
      if (i % 5 === 0) {
        const begun = await apiJson<{ id: string }>(url, 'POST', '/api/v1/txn', {});
        await fetch(`${url}/api/v1/kv/acct:load`, { method: 'PUT', headers: { 'mantis-txn': begun.data.id }, body: 'x' });
        await execute([{ op: 'put', key: 'acct:load', value: String(i) }]);
        await apiJson(url, 'POST', `/api/v1/txn/${begun.data.id}/commit`);
      }
      await page.waitForTimeout(250);
    }
    await page.locator('.ops-chart').first().waitFor();

    // The history window is part of the URL: a reload keeps it.
    await page.getByLabel('History window').selectOption('5');
    await page.waitForURL(/window=5/);
    await page.reload();
    await expect.poll(() => page.getByLabel('History window').inputValue()).toBe('5');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Transactions');
    // The transaction begun here is still listed after the reload (kept for this tab).
    await expect.poll(() => page.getByRole('region', { name: 'Transactions begun from this tab' }).textContent()).toContain(txnId);

    await page.getByLabel('Operation 1 key').fill('acct:carol');
    await page.getByLabel('Operation 1 value').fill('240');
    await page.getByRole('button', { name: 'Run transaction' }).click();
    await expectSuccessToast(page, /Transaction committed/);
    await page.locator('.ops-chart').nth(1).waitFor();
    await page.waitForTimeout(2500);
    expect(await seriousViolations(page)).toEqual([]);
    await clearToasts(page);
    await screenshot(page, 'transactions');
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });

  it('Storage: data files per shard and level, backups taken, verified, downloaded and deleted', async () => {
    const { page, context } = await openDashboard(browser, url, '/admin/overview');
    await openSection(page, 'Storage');
    const summary = page.getByRole('region', { name: /Bytes and file counts per shard/ });
    await expect.poll(() => summary.textContent()).toContain('shard 1');
    const listed = await apiJson<{ data_files: { kind: string; level: number | null; shard: number | null }[] }>(url, 'GET', '/api/storage/list');
    const levels = [...new Set(listed.data.data_files.filter((f) => f.kind === 'sst' && f.level !== null).map((f) => f.level))];
    expect(levels.length).toBeGreaterThan(0);
    for (const l of levels) expect(await summary.getByRole('columnheader', { name: `L${l}`, exact: true }).count()).toBe(1);

    // Filtering the files is part of the URL.
    await page.getByLabel(/^Kind/).selectOption('sst');
    await page.getByLabel(/^Shard/).selectOption('0');
    await page.waitForURL(/kind=sst/);
    const files = page.getByRole('region', { name: 'Data files', exact: true });
    await expect.poll(() => files.locator('tbody tr').count()).toBe(listed.data.data_files.filter((f) => f.kind === 'sst' && f.shard === 0).length);
    expect(await seriousViolations(page)).toEqual([]);

    // Backups: a full one, then an incremental one on top.
    await page.getByRole('tab', { name: 'Backups' }).click();
    await page.waitForURL(/tab=backups/);
    await page.getByRole('button', { name: 'Take full backup' }).click();
    await expectSuccessToast(page, /Full backup .+ taken/);
    let backups = (await apiJson<Backup[]>(url, 'GET', '/api/v1/backups')).data;
    expect(backups).toHaveLength(1);
    const full = backups[0];
    expect(full.incremental).toBe(false);
    await page.getByRole('button', { name: 'Take incremental backup' }).click();
    await expectSuccessToast(page, /Incremental backup .+ taken/);
    backups = (await apiJson<Backup[]>(url, 'GET', '/api/v1/backups')).data;
    expect(backups).toHaveLength(2);
    const incremental = backups.find((b) => b.id !== full.id) as Backup;
    expect(incremental).toMatchObject({ incremental: true, base: full.id });

    await page.getByRole('button', { name: `Verify backup ${full.id}` }).click();
    await expectSuccessToast(page, `Backup ${full.id} verified`);
    await expect.poll(() => page.getByRole('row', { name: new RegExp(full.id) }).getByText('ok', { exact: true }).count()).toBe(1);
    expect((await apiJson<{ ok: boolean }>(url, 'POST', `/api/v1/backups/${full.id}/verify`)).data.ok).toBe(true);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: `Download backup ${full.id}` }).click()]);
    expect(download.suggestedFilename()).toBe(`${full.id}.tar`);
    const saved = await download.path();
    expect((await stat(saved)).size).toBeGreaterThan(1024);
    // A POSIX tar: "ustar" at offset 257 of the first header.
    expect((await readFile(saved)).subarray(257, 262).toString('latin1')).toBe('ustar');
    await expectSuccessToast(page, `Downloaded backups/${full.id}`);

    await page.getByRole('button', { name: `Delete backup ${incremental.id}` }).click();
    await confirm(page);
    await expectSuccessToast(page, `Backup ${incremental.id} deleted`);
    expect((await apiJson<Backup[]>(url, 'GET', '/api/v1/backups')).data.map((b) => b.id)).toEqual([full.id]);

    // A list gone stale (deleted elsewhere): the server's error shows with its code.
    const other = await apiJson<Backup>(url, 'POST', '/api/v1/backups', { incremental: false });
    await page.reload();
    await page.getByRole('button', { name: `Delete backup ${other.data.id}` }).waitFor();
    expect((await apiJson(url, 'DELETE', `/api/v1/backups/${other.data.id}`)).status).toBe(200);
    await page.getByRole('button', { name: `Delete backup ${other.data.id}` }).click();
    await confirm(page);
    await expectErrorToast(page, 'BACKUP_NOT_FOUND');

    // Deep link: the tab survives a reload.
    await page.reload();
    await expect.poll(() => page.getByRole('tab', { name: 'Backups' }).getAttribute('aria-selected')).toBe('true');
    await page.getByRole('button', { name: `Verify backup ${full.id}` }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);

    // The WAL archive holds the segments the backups rolled.
    await page.getByRole('tab', { name: 'WAL archive' }).click();
    const archive = page.getByRole('region', { name: 'Archived WAL segments' });
    await expect.poll(() => archive.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await seriousViolations(page)).toEqual([]);

    await page.getByRole('tab', { name: 'Data files' }).click();
    await page.getByLabel(/^Kind/).selectOption('');
    await page.getByLabel(/^Shard/).selectOption('');
    await expect.poll(() => files.locator('tbody tr').count()).toBeGreaterThan(5);
    await clearToasts(page);
    await screenshot(page, 'storage');
    await context.close();
  });

  it('Settings: edits alert rules and rate limits, shows the profile and the masked configuration', async () => {
    const { page, context } = await openDashboard(browser, url, '/admin/overview');
    await openSection(page, 'Settings');
    const before = (await apiJson<Rule[]>(url, 'GET', '/api/v1/alerts/rules')).data;
    const latency = before.findIndex((r) => r.name === 'high-latency') + 1;
    const cache = before.findIndex((r) => r.name === 'low-cache-hit-rate') + 1;
    expect(latency).toBeGreaterThan(0);
    await expect.poll(() => page.getByLabel(`Rule ${latency} name`).inputValue()).toBe('high-latency');

    // A bad rule name is refused by the server, with its code; the edit stays for fixing.
    await page.getByLabel(`Rule ${latency} name`).fill('high latency!');
    await page.getByRole('button', { name: 'Save rules' }).click();
    const refused = await expectErrorToast(page, 'INVALID_PARAMETER');
    expect(refused).toContain(`rules[${latency - 1}]`);
    await page.getByRole('button', { name: 'Discard changes' }).click();
    await expect.poll(() => page.getByLabel(`Rule ${latency} name`).inputValue()).toBe('high-latency');

    // Change a threshold, add a rule, remove one; save; read back through the API.
    await page.getByLabel(`Rule ${latency} threshold`).fill('250');
    await page.getByLabel(`Rule ${latency} for seconds`).fill('120');
    await page.getByRole('button', { name: `Remove rule ${cache} low-cache-hit-rate` }).click();
    await page.getByRole('button', { name: 'Add rule' }).click();
    const added = before.length; // one removed, one added
    await page.getByLabel(`Rule ${added} name`).fill('too-many-open-txns');
    await page.getByLabel(`Rule ${added} metric`).selectOption('open_transactions');
    await page.getByLabel(`Rule ${added} operator`).selectOption('>=');
    await page.getByLabel(`Rule ${added} threshold`).fill('500');
    await page.getByLabel(`Rule ${added} for seconds`).fill('30');
    await page.getByLabel(`Rule ${added} severity`).selectOption('critical');
    await page.getByLabel(`Rule ${added} description`).fill('transactions left open by a client');
    await page.getByRole('button', { name: 'Save rules' }).click();
    await expectSuccessToast(page, `Saved ${before.length} alert rule(s)`);
    const after = (await apiJson<Rule[]>(url, 'GET', '/api/v1/alerts/rules')).data;
    expect(after.find((r) => r.name === 'high-latency')).toMatchObject({ value: 250, for_s: 120 });
    expect(after.find((r) => r.name === 'low-cache-hit-rate')).toBeUndefined();
    expect(after.find((r) => r.name === 'too-many-open-txns')).toEqual({ name: 'too-many-open-txns', metric: 'open_transactions', op: '>=', value: 500, for_s: 30, severity: 'critical', description: 'transactions left open by a client' });
    await expect.poll(() => page.getByRole('region', { name: 'The state of each alert rule' }).textContent()).toContain('too-many-open-txns');
    expect(await seriousViolations(page)).toEqual([]);
    await clearToasts(page);
    await screenshot(page, 'settings');

    // Rate limits: a default and a limit of the write class.
    await page.getByRole('tab', { name: 'Rate limits' }).click();
    await page.waitForURL(/tab=limits/);
    await page.getByLabel(/^Requests per second/).fill('500');
    await page.getByLabel(/^Burst/).fill('1000');
    await page.getByRole('row', { name: /^write/ }).getByRole('checkbox').check();
    await page.getByLabel('write requests per second').fill('200');
    await page.getByLabel('write burst').fill('400');
    await page.getByRole('button', { name: 'Save rate limits' }).click();
    await expectSuccessToast(page, 'Rate limits saved');
    const limits = await apiJson<{ rps: number; burst: number; classes: Record<string, { rps: number; burst: number }> }>(url, 'GET', '/api/v1/admin/rate-limits');
    expect(limits.data).toMatchObject({ rps: 500, burst: 1000, classes: { write: { rps: 200, burst: 400 } } });
    // Deep link: the tab and the saved values after a reload.
    await page.reload();
    await expect.poll(() => page.getByRole('tab', { name: 'Rate limits' }).getAttribute('aria-selected')).toBe('true');
    await expect.poll(() => page.getByLabel('write requests per second').inputValue()).toBe('200');
    expect(await page.getByLabel(/^Requests per second/).inputValue()).toBe('500');
    expect(await seriousViolations(page)).toEqual([]);
    // Back to no limit (the class limit dropped), so the rest of the suite is not throttled.
    await page.getByLabel(/^Requests per second/).fill('0');
    await page.getByLabel(/^Burst/).fill('0');
    await page.getByRole('row', { name: /^write/ }).getByRole('checkbox').uncheck();
    await page.getByRole('button', { name: 'Save rate limits' }).click();
    await expectSuccessToast(page, 'Rate limits saved');
    expect((await apiJson(url, 'GET', '/api/v1/admin/rate-limits')).data).toEqual({ rps: 0, burst: 0, classes: {}, connections_per_ip: 0 });

    // Profile: auth is off, every request acts as the system.
    await page.getByRole('tab', { name: 'Profile' }).click();
    await expect.poll(() => page.getByRole('region', { name: 'Who am I' }).textContent()).toContain('off: every request acts as the system admin');
    expect(await page.getByRole('region', { name: 'Who am I' }).textContent()).toContain('system');

    // Configuration: values as the server reports them; secrets only as set or not.
    await page.getByRole('tab', { name: 'Configuration' }).click();
    const secrets = page.getByRole('region', { name: 'Secrets and whether each is set' });
    await expect.poll(() => secrets.textContent()).toContain('MANTIS_JWT_SECRET');
    expect(await secrets.textContent()).toContain('not set');
    await expect.poll(() => page.getByRole('region', { name: 'Configuration: ops' }).textContent()).toContain('backupDir');
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();
  });
});
