// The dashboard's files as the server serves them: redirects, content types,
// cache headers (hashed assets immutable, index.html revalidated), gzip, deep
// links answered with the app, missing assets a JSON 404; and the built bundle
// holds no unfinished-work text. No browser needed.

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { startAuthServer } from '../helpers/auth-support.js';
import { BANNED, dashboardEnv } from './browser.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BUILT = process.env.MANTIS_ADMIN_DIR ?? join(ROOT, 'dist', 'admin');


async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const answer = await request(base + path, { method: 'GET', headers });
  const body = Buffer.from(await answer.body.arrayBuffer());
  return { status: answer.statusCode, headers: answer.headers, body };
}

describe('dashboard files', () => {
  let server: ServerProcess;
  let secured: ServerProcess;
  beforeAll(async () => {
    [server, secured] = await Promise.all([startServer({ shards: 1, env: dashboardEnv() }), startAuthServer({ shards: 1, env: dashboardEnv() })]);
  });
  afterAll(cleanup);

  it('redirects / and /admin to /admin/', async () => {
    for (const path of ['/', '/admin']) {
      const r = await get(server.url, path);
      expect(r.status).toBe(302);
      expect(r.headers.location).toBe('/admin/');
    }
  });

  it('serves index.html revalidated by ETag, and hashed assets as immutable with their content types', async () => {
    const index = await get(server.url, '/admin/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    const etag = String(index.headers.etag);
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await get(server.url, '/admin/', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);

    const html = index.body.toString('utf8');
    const scripts = [...html.matchAll(/(?:src|href)="(\/admin\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(scripts.some((s) => s.endsWith('.js'))).toBe(true);
    expect(scripts.some((s) => s.endsWith('.css'))).toBe(true);
    for (const asset of scripts) {
      const r = await get(server.url, asset);
      expect(r.status, asset).toBe(200);
      expect(r.headers['content-type']).toBe(asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
      expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });

  it('gzips text files for clients that accept it, byte-identical once inflated', async () => {
    const index = await get(server.url, '/admin/');
    const script = /src="(\/admin\/assets\/[^"]+\.js)"/.exec(index.body.toString('utf8'))?.[1] as string;
    const plain = await get(server.url, script);
    const zipped = await get(server.url, script, { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.body.length);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('answers a section path with the app (deep links), a missing asset with a JSON 404', async () => {
    const index = await get(server.url, '/admin/');
    for (const path of ['/admin/kv', '/admin/documents/orders?tab=indexes', '/admin/sql?q=select%201']) {
      const r = await get(server.url, path);
      expect(r.status, path).toBe(200);
      expect(r.body.equals(index.body)).toBe(true);
    }
    const missing = await get(server.url, '/admin/assets/no-such-file.js');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString('utf8')).error.code).toBe('NOT_FOUND');
    const bad = await get(server.url, '/admin/%E0%A4%A');
    expect(bad.status).toBe(400);
  });

  it('serves the API docs viewer locally', async () => {
    const js = await get(server.url, '/admin/vendor/swagger-ui/swagger-ui-bundle.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await get(server.url, '/admin/vendor/swagger-ui/swagger-ui.css');
    expect(css.status).toBe(200);
  });

  it('is public with auth on (the app signs in by itself) while the API still needs a credential', async () => {
    expect((await get(secured.url, '/admin/')).status).toBe(200);
    expect((await get(secured.url, '/admin/overview')).status).toBe(200);
    expect((await get(secured.url, '/')).status).toBe(302);
    expect((await get(secured.url, '/api/v1/metrics/history')).status).toBe(401);
  });

  it('ships no unfinished-work text in the bundle', () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) {
          if (entry.name !== 'vendor') walk(join(dir, entry.name));
        } else files.push(join(dir, entry.name));
      }
    };
    walk(BUILT);
    const checked = files.filter((f) => /\.(js|css|html)$/.test(f));
    expect(checked.length).toBeGreaterThan(3);
    for (const file of checked) {
      const match = BANNED.exec(readFileSync(file, 'utf8'));
      expect(match === null ? null : `${file}: …${match[0]}…`).toBeNull();
    }
  });
});
