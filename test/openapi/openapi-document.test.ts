// The OpenAPI 3.1 description (GET /api/docs/openapi.json and .yaml), on a
// real server with auth off (issue 16):
//   - it validates as OpenAPI 3.1, and the YAML is the same document;
//   - content types, Cache-Control: no-cache, ETag revalidation, gzip;
//   - every route of GET /api/v1/admin/routes (Hono's table and the native
//     streams) serves a documented operation, so a route registered without a
//     spec fails here;
//   - every documented operation exists: a real request to each, with the
//     examples as parameters and body, is neither "no route" (404) nor 405;
//   - every example validates against its schema (JSON Schema 2020-12);
//   - each operation's x-mantis-permission is what the access gate decides
//     (src/security/access.ts) for its example request.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Validator } from '@seriousme/openapi-schema-validator';
import { parse as parseYaml } from 'yaml';
import { needOf } from '../../src/security/access.js';
import { routeOf } from '../../src/http/routes.js';
import { call, ok, wsHandshake } from '../helpers/auth-support.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  concretePermission,
  examplesOf,
  operationsOf,
  sampleRequest,
  schemaCompiler,
  undocumented,
  type DocumentedOp,
  type OpenApiDoc,
} from './openapi-support.js';

let server: ServerProcess;
let doc: OpenApiDoc;
let jsonText: string;

beforeAll(async () => {
  server = await startServer({ shards: 2 });
  const r = await fetch(`${server.url}/api/docs/openapi.json`);
  jsonText = await r.text();
  doc = JSON.parse(jsonText) as OpenApiDoc;
});

afterAll(async () => {
  await server?.stop();
  await cleanup();
});

describe('the document', () => {
  it('validates as OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
    expect(result.errors, JSON.stringify(result.errors, null, 2)?.slice(0, 4000)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');
  });

  it('says the package version and serves try-it-out calls from the same origin', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(doc.info.version).toBe(pkg.version);
    expect((doc as unknown as { servers: unknown }).servers).toEqual([{ url: '/', description: expect.any(String) }]);
  });

  it('JSON and YAML: types, no-cache, the same object, ETag revalidation, gzip', async () => {
    const json = await fetch(`${server.url}/api/docs/openapi.json`);
    const yaml = await fetch(`${server.url}/api/docs/openapi.yaml`);
    expect(json.status).toBe(200);
    expect(yaml.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(yaml.headers.get('content-type')).toMatch(/^application\/yaml\b/);
    expect(json.headers.get('cache-control')).toBe('no-cache');
    expect(yaml.headers.get('cache-control')).toBe('no-cache');
    const yamlText = await yaml.text();
    expect(parseYaml(yamlText)).toEqual(JSON.parse(await json.text()));
    // Built once: the same bytes every time.
    expect(await (await fetch(`${server.url}/api/docs/openapi.json`)).text()).toBe(jsonText);

    const etag = json.headers.get('etag') as string;
    expect(etag).toMatch(/^".+"$/);
    const again = await fetch(`${server.url}/api/docs/openapi.json`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const yamlEtag = yaml.headers.get('etag') as string;
    expect(yamlEtag).not.toBe(etag);
    expect((await fetch(`${server.url}/api/docs/openapi.yaml`, { headers: { 'if-none-match': yamlEtag } })).status).toBe(304);

    const zipped = await call(server.url, 'GET', '/api/docs/openapi.json', { headers: { 'accept-encoding': 'gzip' } });
    expect(zipped.status).toBe(200);
    // fetch inflates a gzipped answer: the text is the document.
    expect(JSON.parse(zipped.text)).toEqual(doc);
    expect(gunzipSync(Buffer.from(await rawGzip('/api/docs/openapi.yaml'))).toString('utf8')).toBe(yamlText);
  });

  it('describes the envelope, the error codes, the security schemes and the shared headers', () => {
    const d = doc as unknown as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(d.components.securitySchemes).sort()).toEqual(['accessToken', 'apiKey', 'bearerJwt', 'csrfToken', 'sessionCookie']);
    expect(d.components.parameters.MantisTxn).toMatchObject({ name: 'Mantis-Txn', in: 'header' });
    expect(d.components.parameters.MantisDeadlineMs).toMatchObject({ name: 'Mantis-Deadline-Ms', in: 'header' });
    expect(d['x-mantis-error-codes'].KEY_NOT_FOUND).toMatchObject({ status: 404, retryable: false });
    expect(d['x-mantis-error-codes'].SHARD_BUSY).toMatchObject({ status: 503, retryable: true });
    for (const o of operationsOf(doc)) {
      const at = `${o.method} ${o.path}`;
      const permission = o.op['x-mantis-permission'];
      expect(permission, at).toMatch(/^(public|authenticated|.+:(read|write))$/);
      if (permission === 'public') expect(o.op.security, at).toEqual([]);
      else expect(o.op.security.length, at).toBeGreaterThanOrEqual(3);
      // Every error status lists its codes, and each code is answered with its own status.
      for (const [status, r] of Object.entries(o.op.responses)) {
        const codes = (r as { 'x-mantis-error-codes'?: string[] })['x-mantis-error-codes'];
        for (const code of codes ?? []) expect(String(d['x-mantis-error-codes'][code].status), `${at} ${code}`).toBe(status);
      }
      expect(o.op['x-mantis-error-codes'], at).toContain('INTERNAL');
    }
    const kvGet = doc.paths['/api/v1/kv/{key}'].get;
    expect(kvGet['x-mantis-error-codes']).toEqual(expect.arrayContaining(['KEY_NOT_FOUND', 'INVALID_KEY', 'DEADLINE_EXCEEDED', 'UNAUTHORIZED', 'FORBIDDEN']));
    expect(kvGet.parameters?.map((p) => p.$ref ?? p.name)).toEqual(['key', '#/components/parameters/MantisTxn', '#/components/parameters/MantisDeadlineMs']);
    expect(doc.paths['/api/docs/openapi.json'].get.security).toEqual([]);
  });

  it('every example validates against its schema', () => {
    const compile = schemaCompiler(doc);
    // Every shared schema compiles (strict: an unknown keyword is an error).
    for (const name of Object.keys(doc.components.schemas)) compile({ $ref: `#/components/schemas/${name}` });
    const examples = examplesOf(doc);
    expect(examples.length).toBeGreaterThan(150);
    const problems: string[] = [];
    for (const e of examples) {
      const validate = compile(e.schema);
      if (!validate(e.example)) problems.push(`${e.where}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
    }
    expect(problems).toEqual([]);
    // Every JSON success answer and every JSON request body shows an example (binary ones need not).
    const without = operationsOf(doc).filter((o) => {
      const success = Object.entries(o.op.responses).filter(([s]) => s.startsWith('2'));
      const body = o.op.requestBody?.content['application/json'];
      return success.some(([, r]) => r.content?.['application/json'] !== undefined && r.content['application/json'].example === undefined) || (body !== undefined && body.example === undefined);
    });
    expect(without.map((o) => `${o.method} ${o.path}`)).toEqual([]);
  });
});

describe('the document and the routes the server registers', () => {
  it('every route of GET /api/v1/admin/routes serves a documented operation', async () => {
    const listing = await ok<string[]>(call(server.url, 'GET', '/api/v1/admin/routes'), 200);
    expect(listing.length).toBeGreaterThan(60);
    expect(listing).toEqual(expect.arrayContaining(['GET /ws', 'GET /api/v1/docs/:c/changes', 'GET /api/docs/openapi.json', 'GET /api/docs/openapi.yaml', 'ALL /api/v1/docs/*']));
    const ops = operationsOf(doc);
    expect(undocumented(listing, ops), 'routes the server registers without a spec').toEqual([]);
    // And each operation names a registration the listing has.
    const stray = ops.filter((o) => !listing.includes(o.op['x-mantis-route'])).map((o) => `${o.method} ${o.path} → ${o.op['x-mantis-route']}`);
    expect(stray).toEqual([]);
  });

  it('the listing matcher finds a route without a spec', () => {
    const ops = [{ method: 'GET', path: '/api/v1/kv/{key}' }, { method: 'POST', path: '/api/v1/docs/{c}/find' }];
    expect(undocumented(['GET /api/v1/kv/*', 'ALL /api/v1/docs/*', 'ALL /api/v1/kv/*'], ops)).toEqual([]);
    expect(undocumented(['GET /api/v1/kv', 'PUT /api/v1/kv/*', 'GET /api/v1/docs/:c/find', 'ALL /api/v1/tables/*', 'GET /api/v1/kv/:key/touch'], ops)).toEqual([
      'GET /api/v1/kv',
      'PUT /api/v1/kv/*',
      'GET /api/v1/docs/:c/find',
      'ALL /api/v1/tables/*',
      'GET /api/v1/kv/:key/touch',
    ]);
  });

  it('documents every model and more than 90 operations', () => {
    const ops = operationsOf(doc);
    expect(ops.length).toBeGreaterThan(90);
    const tags = new Set(ops.map((o) => (o.op as unknown as { tags: string[] }).tags[0]));
    for (const tag of ['Health', 'Key-value', 'Cache', 'Streams', 'Transactions', 'Documents', 'Tables', 'CQL', 'SQL', 'Auth', 'Admin', 'Operations', 'Backups', 'API description', 'Dashboard']) {
      expect(tags.has(tag), tag).toBe(true);
    }
  });

  it('each x-mantis-permission is what the access gate decides for the example request', () => {
    const problems: string[] = [];
    for (const o of operationsOf(doc)) {
      const { path, query } = sampleRequest(doc, o);
      const method = o.method.toLowerCase();
      // The native streams are gated as unlabelled paths (invalidation-streams.ts authenticate()).
      const label = o.op['x-mantis-transport'] === undefined ? routeOf(method, path) : 'unmatched';
      const need = needOf(label, method, path, query);
      const gate = need.kind === 'perm' ? `${need.resource}:${need.action}` : need.kind;
      const documented = concretePermission(doc, o);
      // The invalidation stream admits any credential and checks cache read itself.
      const expected = o.path === '/api/v1/cache/invalidations/stream' ? 'authenticated' : documented;
      if (gate !== expected) problems.push(`${o.method} ${path}?${query}: gate says ${gate}, the document ${documented}`);
    }
    expect(problems).toEqual([]);
  });

  it('every documented operation exists: its example request is neither "no route" nor 405', async () => {
    const base = server.url;
    // Objects the examples name.
    await ok(call(base, 'PUT', '/api/v1/docs/users', { body: {} }));
    await ok(call(base, 'POST', '/api/v1/tables', { body: { name: 'people', primary_key: ['id'], columns: [{ name: 'id', type: 'int64' }, { name: 'name', type: 'string' }, { name: 'age', type: 'int64' }, { name: 'city', type: 'string' }] } }));
    await ok(call(base, 'PUT', '/api/v1/kv/user:1', { body: '{"name":"Ada"}', contentType: 'application/json' }));
    const ops = operationsOf(doc);
    // Deletions last, so the objects stay for the other requests.
    const ordered = [...ops.filter((o) => o.method !== 'DELETE'), ...ops.filter((o) => o.method === 'DELETE')];
    const problems: string[] = [];
    let tried = 0;
    for (const o of ordered) {
      const answer = await tryOperation(base, o);
      tried++;
      if (answer.status === 405 || answer.code === 'METHOD_NOT_ALLOWED') problems.push(`${o.method} ${o.path}: 405 ${answer.text}`);
      if (answer.status === 404 && /no route for|no action/.test(answer.message)) problems.push(`${o.method} ${o.path}: 404 ${answer.text}`);
    }
    expect(problems).toEqual([]);
    expect(tried).toBe(ops.length);
    expect((await call(base, 'GET', '/health/live')).status).toBe(200);
  });
});

type Tried = { status: number; code: string; message: string; text: string };

async function tryOperation(base: string, o: DocumentedOp): Promise<Tried> {
  const { path, query, body, contentType } = sampleRequest(doc, o);
  const target = `${path}${query === '' ? '' : `?${query}`}`;
  if (o.op['x-mantis-transport'] === 'websocket') {
    const h = await wsHandshake(base, target);
    return answerOf(h.status, h.body);
  }
  if (o.op['x-mantis-transport'] === 'sse') {
    const abort = new AbortController();
    const r = await fetch(`${base}${target}`, { signal: abort.signal });
    if (r.status === 200) {
      expect(r.headers.get('content-type'), target).toMatch(/^text\/event-stream/);
      abort.abort();
      return answerOf(200, '');
    }
    return answerOf(r.status, await r.text());
  }
  const r = await fetch(`${base}${target}`, {
    method: o.method,
    redirect: 'manual',
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    body,
  });
  const text = o.method === 'HEAD' ? '' : await r.text();
  // A HEAD answer has no body: the GET of the same path says what a 404 was.
  if (o.method === 'HEAD' && r.status === 404) {
    const g = await fetch(`${base}${target}`);
    return answerOf(404, await g.text());
  }
  return answerOf(r.status, text);
}

function answerOf(status: number, text: string): Tried {
  let parsed: { error?: { code?: string; message?: string } } | undefined;
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  return { status, code: parsed?.error?.code ?? '', message: parsed?.error?.message ?? '', text: text.slice(0, 300) };
}

/** The gzipped bytes as the server sends them (undici's fetch would inflate them). */
async function rawGzip(path: string): Promise<Uint8Array> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
      expect(res.headers['content-encoding']).toBe('gzip');
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
