// The route registry and the OpenAPI builder in-process: route() and
// dispatch() register with Hono and record the spec, patterns follow the
// OpenAPI paths, the common error codes, and the YAML serializer.

import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { dispatch, fallback, ok, registrationsOf, route, routeLabelOf, routePathOf, servedBy, str, TXN, DEADLINE, type RouteSpec } from '../../src/http/api-spec.js';
import type { Bindings } from '../../src/http/hono-app.js';
import { buildOpenApi, errorCodesOf, servedSpecs, toYaml } from '../../src/http/openapi.js';

const spec = (method: RouteSpec['method'], path: string, extra: Partial<RouteSpec> = {}): RouteSpec => ({
  method,
  path,
  tag: 'Key-value',
  summary: `${method} ${path}`,
  responses: [ok('fine', str(), 'x')],
  errors: [],
  permission: 'authenticated',
  ...extra,
});

describe('route patterns', () => {
  it('maps OpenAPI paths to route patterns and listing labels', () => {
    const key = spec('GET', '/api/v1/kv/{key}', { params: [{ name: 'key', in: 'path', rest: true, description: 'k', schema: str(), example: 'a/b' }] });
    expect(routePathOf(key)).toBe('/api/v1/kv/*');
    expect(routePathOf(spec('POST', '/api/v1/txn/{id}/commit'))).toBe('/api/v1/txn/:id/commit');
    expect(routeLabelOf(spec('GET', '/api/v1/docs/{c}/changes'))).toBe('GET /api/v1/docs/:c/changes');
  });

  it('tells which operations a pattern serves', () => {
    expect(servedBy('/api/v1/docs/*', '/api/v1/docs/{c}/find')).toBe(true);
    expect(servedBy('/api/v1/docs/*', '/api/v1/docs')).toBe(false);
    expect(servedBy('/api/v1/docs', '/api/v1/docs')).toBe(true);
    expect(servedBy('/api/v1/txn/:id/commit', '/api/v1/txn/{id}/commit')).toBe(true);
    expect(servedBy('/api/v1/txn/:id/commit', '/api/v1/txn/execute/commit')).toBe(false);
  });
});

describe('the registry', () => {
  it('route() registers with Hono and records the spec; HEAD is documented with its GET', async () => {
    const app = new Hono<{ Bindings: Bindings }>();
    const get = spec('GET', '/api/v1/kv/{key}', { params: [{ name: 'key', in: 'path', rest: true, description: 'k', schema: str(), example: 'a' }] });
    route(app, [get, { ...get, method: 'HEAD' }], (c) => c.text(`got ${c.req.method}`));
    route(app, spec('POST', '/api/v1/txn/{id}/commit'), (c) => c.text(`commit ${c.req.param('id') ?? ''}`));
    fallback(app, '/api/v1/kv/*', () => new Response('405', { status: 405 }));
    expect(app.routes.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v1/kv/*', 'POST /api/v1/txn/:id/commit', 'ALL /api/v1/kv/*']);
    expect(registrationsOf(app).map((r) => [r.route, r.specs.map((s) => s.method)])).toEqual([
      ['GET /api/v1/kv/*', ['GET', 'HEAD']],
      ['POST /api/v1/txn/:id/commit', ['POST']],
      ['ALL /api/v1/kv/*', []],
    ]);
    // A plain registration is in Hono's table and not in the registry.
    app.get('/plain', (c) => c.text('plain'));
    expect(app.routes.length).toBe(registrationsOf(app).length + 1);
    const env = (path: string): Bindings => ({ rawPath: path, rawQuery: '', receivedAtMs: Date.now() });
    expect(await (await app.request('/api/v1/kv/a/b', {}, env('/api/v1/kv/a/b'))).text()).toBe('got GET');
    expect(await (await app.request('/api/v1/txn/t1/commit', { method: 'POST' }, env('/api/v1/txn/t1/commit'))).text()).toBe('commit t1');
    expect((await app.request('/api/v1/kv/a', { method: 'PATCH' }, env('/api/v1/kv/a'))).status).toBe(405);
  });

  it('dispatch() records the sub-routes each pattern serves and refuses a spec outside them', () => {
    const app = new Hono<{ Bindings: Bindings }>();
    const specs = [spec('GET', '/api/v1/docs'), spec('POST', '/api/v1/docs/{c}/find'), spec('DELETE', '/api/v1/docs/{c}/indexes/{name}')];
    dispatch(app, ['/api/v1/docs', '/api/v1/docs/*'], specs, (c) => c.text('docs'));
    expect(registrationsOf(app).map((r) => [r.route, r.specs.length])).toEqual([
      ['ALL /api/v1/docs', 1],
      ['ALL /api/v1/docs/*', 2],
    ]);
    expect(() => dispatch(new Hono<{ Bindings: Bindings }>(), ['/api/v1/docs/*'], [...specs], (c) => c.text('x'))).toThrow(/under none of/);
    expect(() => route(new Hono<{ Bindings: Bindings }>(), [spec('GET', '/a'), spec('HEAD', '/b')], (c) => c.text('x'))).toThrow(/not served by/);
  });

  it('builds a document from the registry and the native routes; two specs for one operation are refused', () => {
    const app = new Hono<{ Bindings: Bindings }>();
    route(app, spec('GET', '/api/v1/a'), (c) => c.text('a'));
    const native = spec('GET', '/ws', { transport: 'websocket', tag: 'Streams' });
    const doc = buildOpenApi(servedSpecs(app, [native]), '9.9.9') as { info: { version: string }; paths: Record<string, Record<string, Record<string, unknown>>> };
    expect(doc.info.version).toBe('9.9.9');
    expect(doc.paths['/api/v1/a'].get['x-mantis-route']).toBe('GET /api/v1/a');
    expect(doc.paths['/ws'].get['x-mantis-transport']).toBe('websocket');
    expect(() => buildOpenApi(servedSpecs(app, [spec('GET', '/api/v1/a')]), '1')).toThrow(/two specs/);
  });
});

describe('error codes', () => {
  it('adds what the listener, the gate and the body reader can answer', () => {
    expect(errorCodesOf(spec('GET', '/health/live', { permission: 'public' }))).toEqual(['RATE_LIMITED', 'INTERNAL', 'SHUTTING_DOWN']);
    const put = errorCodesOf(spec('PUT', '/api/v1/kv/{key}', { permission: 'kv:{key}:write', params: [TXN, DEADLINE], body: { content: {} }, errors: ['INVALID_KEY'] }));
    expect(put).toEqual(expect.arrayContaining(['INVALID_KEY', 'INVALID_PARAMETER', 'UNAUTHORIZED', 'FORBIDDEN', 'CSRF_FAILED', 'VALUE_TOO_LARGE', 'OVERLOADED', 'DEADLINE_EXCEEDED']));
    expect(put).not.toContain('BODY_TOO_LARGE');
    // Sorted by status.
    expect(put.indexOf('INVALID_KEY')).toBeLessThan(put.indexOf('UNAUTHORIZED'));
    const stream = errorCodesOf(spec('GET', '/api/v1/metrics/stream', { transport: 'sse', permission: 'admin:read' }));
    expect(stream).not.toContain('OVERLOADED');
    expect(stream).not.toContain('CSRF_FAILED');
  });
});

describe('YAML', () => {
  it('round-trips values a YAML reader could take for other types', () => {
    const value = {
      openapi: '3.1.0',
      'true': 'yes',
      '200': { description: 'no', n: 1.5e-7, big: 1e21, neg: -3, t: true, f: false, z: null },
      '/api/v1/kv/{key}': ['a', '', ' padded ', 'line\nbreak', 'tab\t', 'quote"s', "it's", '#hash', '- dash', ': colon', '{"json":1}', '日本語 ✓', '\u2028'],
      $ref: '#/components/schemas/X',
      'x-mantis-error-codes': [],
      empty: {},
      nested: [[1, [2, {}]], [], { a: [{ b: { c: [] } }] }],
      'key with space': 'null',
      'null': '~',
    };
    const text = toYaml(value);
    expect(parseYaml(text)).toEqual(value);
    expect(parseYaml(toYaml('scalar'))).toBe('scalar');
    expect(parseYaml(toYaml([]))).toEqual([]);
  });
});
