// The dashboard's first paint on a local server (issue 16: under 1 s), in
// Debian's Chromium driven by playwright-core, each run in a fresh browser
// context (empty cache):
//   - first-contentful-paint and "app ready" (the Overview's heading drawn,
//     signed in) for /admin/overview served by MantisDB;
//   - the baseline, in the same run: the same browser's first paint of a
//     minimal static page from node:http (what any page costs here).
// Also prints the bundle: bytes over the wire for the first load.
//
//   npm run bench:admin            (BENCH_RUNS=20 by default)

import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { startServer, stopServer } from './lib/proc.js';
import { envInt } from './lib/env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const READY = /^MantisDB listening on (http:\/\/\S+)/;
const RUNS = envInt('BENCH_RUNS', 20, 1);
const CHROMIUM = process.env.MANTIS_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

type Sample = { fcp: number; ready: number; bytes: number };

async function measure(browser: Browser, url: string, readySelector: string): Promise<Sample> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  let bytes = 0;
  page.on('response', (r) => {
    void r.body().then((b) => (bytes += b.length), () => undefined);
  });
  const start = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForSelector(readySelector, { timeout: 30_000 });
  const readyWall = Date.now() - start;
  const timing = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { fcp: fcp ? fcp.startTime : -1, now: performance.now(), start: nav ? nav.startTime : 0 };
  })()`)) as { fcp: number; now: number; start: number };
  await page.waitForTimeout(200);
  await context.close();
  return { fcp: timing.fcp, ready: Math.min(readyWall, timing.now), bytes };
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function line(name: string, samples: Sample[]): string {
  const fcp = samples.map((s) => s.fcp);
  const ready = samples.map((s) => s.ready);
  return `${name.padEnd(34)} FCP p50 ${pct(fcp, 50).toFixed(0).padStart(4)} ms  p95 ${pct(fcp, 95).toFixed(0).padStart(4)} ms   ready p50 ${pct(ready, 50).toFixed(0).padStart(4)} ms  p95 ${pct(ready, 95).toFixed(0).padStart(4)} ms   ${(samples[0].bytes / 1024).toFixed(0)} KiB of responses (decoded)`;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mantis-admin-bench-'));
  const server = await startServer('MantisDB', join(ROOT, 'dist/src/main.js'), ['--port', '0', '--host', '127.0.0.1', '--shards', '2', '--log-level', 'warn', '--data-dir', dataDir], READY);
  const baseline = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>baseline</title></head><body><h1>Overview</h1></body></html>');
  });
  await new Promise<void>((ok) => baseline.listen(0, '127.0.0.1', ok));
  const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  try {
    // One warm-up each (the browser's own start-up costs are not the page's).
    await measure(browser, `${server.url}/admin/overview`, 'h1');
    await measure(browser, baselineUrl, 'h1');
    const dashboard: Sample[] = [];
    const floor: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      dashboard.push(await measure(browser, `${server.url}/admin/overview`, 'main#main h1'));
      floor.push(await measure(browser, baselineUrl, 'h1'));
    }
    console.log(`dashboard first paint, ${RUNS} cold loads each (fresh context, empty cache), Chromium ${browser.version()}`);
    console.log(line('MantisDB /admin/overview', dashboard));
    console.log(line('baseline: static page (node:http)', floor));
    const p50 = pct(dashboard.map((s) => s.ready), 50);
    console.log(`target: the Overview drawn in under 1000 ms: ${p50 < 1000 ? 'PASS' : 'FAIL'} (p50 ${p50.toFixed(0)} ms; ${(p50 / Math.max(1, pct(floor.map((s) => s.ready), 50))).toFixed(1)}× the static page)`);
  } finally {
    await browser.close();
    baseline.close();
    await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
