// With --auth on, the OpenAPI description stays public: both serializations
// answer without any credential (and with a stale one), while the routes it
// describes still need theirs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, loginAdmin, startAuthServer } from '../helpers/auth-support.js';
import { cleanup, type ServerProcess } from '../helpers/server-process.js';

let server: ServerProcess;

beforeAll(async () => {
  server = await startAuthServer({ shards: 1 });
});

afterAll(async () => {
  await server?.stop();
  await cleanup();
});

describe('the OpenAPI description with auth on', () => {
  it('is readable without a credential, as JSON and as YAML', async () => {
    for (const [path, type] of [
      ['/api/docs/openapi.json', /^application\/json\b/],
      ['/api/docs/openapi.yaml', /^application\/yaml\b/],
    ] as const) {
      const anonymous = await call(server.url, 'GET', path);
      expect(anonymous.status, `${path}: ${anonymous.text.slice(0, 200)}`).toBe(200);
      expect(anonymous.headers.get('content-type')).toMatch(type);
      expect(anonymous.headers.get('cache-control')).toBe('no-cache');
      expect(anonymous.text).toContain('3.1.0');
      // A bad credential on a public route is served anonymously.
      const stale = await call(server.url, 'GET', path, { authorization: 'Bearer not-a-jwt' });
      expect(stale.status).toBe(200);
      expect(stale.text).toBe(anonymous.text);
    }
    const head = await fetch(`${server.url}/api/docs/openapi.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('describes routes that still need their credential', async () => {
    const doc = (await call(server.url, 'GET', '/api/docs/openapi.json')).json as unknown as { paths: Record<string, Record<string, { 'x-mantis-permission': string }>> };
    expect(doc.paths['/api/v1/admin/routes'].get['x-mantis-permission']).toBe('admin:read');
    expect((await call(server.url, 'GET', '/api/v1/admin/routes')).status).toBe(401);
    const admin = await loginAdmin(server.url);
    const listing = await call(server.url, 'GET', '/api/v1/admin/routes', { token: admin });
    expect(listing.status).toBe(200);
    expect(listing.json?.data).toEqual(expect.arrayContaining(['GET /api/docs/openapi.json', 'GET /api/docs/openapi.yaml']));
  });
});
