// The OpenAPI 3.1 description of the HTTP API, built from the route specs the
// server registered (api-spec.ts: the Hono routes' registry, plus the native
// stream routes), never from a list kept beside them:
//
//   GET /api/docs/openapi.json   application/json
//   GET /api/docs/openapi.yaml   application/yaml
//
// Both are public (the access gate labels them '/api/docs/*'), built once on
// the first request and kept with an ETag (Cache-Control: no-cache, so a
// client revalidates and a new server version is seen at once).

import { readFileSync } from 'node:fs';
import type { Context, Hono } from 'hono';
import { ErrorCode, httpStatusOf, isRetryable, type ErrorCode as Code } from '../../shared/errors.js';
import { SCHEMAS } from './api-schemas.js';
import { answerCached, cachedBytes, type CachedBytes } from './cached-reply.js';
import { toYamlOffThread } from './openapi-yaml.js';

export { toYaml } from './openapi-yaml.js';
import {
  empty,
  freeObject,
  raw,
  registrationsOf,
  route,
  routeLabelOf,
  str,
  type JsonSchema,
  type ParamRef,
  type ParamSpec,
  type ResponseSpec,
  type RouteSpec,
  type Tag,
} from './api-spec.js';
import type { Bindings } from './hono-app.js';
import { neverShed } from './overload.js';
import { STATUS_TEXT } from './reply.js';


export const OPENAPI_JSON_PATH = '/api/docs/openapi.json';
export const OPENAPI_YAML_PATH = '/api/docs/openapi.yaml';

/** What each code means, worded as the usual message. Exhaustive: a new code fails the build until it is described. */
export const ERROR_CODE_DOCS: Readonly<Record<Code, string>> = {
  NOT_FOUND: 'no such route, object, OAuth provider or API key',
  KEY_NOT_FOUND: 'no such key (or it expired); a table row by primary key',
  METHOD_NOT_ALLOWED: 'the route does not take this method',
  INVALID_KEY: 'the key is empty, badly percent-encoded or not UTF-8',
  KEY_TOO_LARGE: 'the key is over 1024 bytes (a table primary key: over 4096 bytes encoded)',
  VALUE_TOO_LARGE: 'the value is over --max-value-bytes',
  BODY_TOO_LARGE: 'the request body is over the route\'s limit',
  INVALID_TTL: 'the TTL is not a whole number of seconds in 1..315360000',
  INVALID_CONTENT_TYPE: 'the content type is not printable ASCII of at most 255 bytes',
  INVALID_PARAMETER: 'a bad query parameter, body field or header (named in the message)',
  INVALID_JSON: 'the body is not JSON (or not a JSON object)',
  INVALID_BATCH: 'the batch is not {"ops":[…]} or an op is malformed',
  BATCH_TOO_LARGE: 'more than 1000 ops, conditions or operations',
  UNSUPPORTED_MEDIA_TYPE: 'the route does not take a body of this Content-Type',
  SHARD_UNAVAILABLE: 'a shard crashed or is restarting (retryable)',
  SHARD_BUSY: 'too many requests are queued for a shard (retryable)',
  SHUTTING_DOWN: 'the server is stopping (retryable)',
  STORAGE_IO: 'a WAL, table or manifest write failed: the shard refuses writes',
  STORAGE_FULL: 'the disk is full: the shard refuses writes',
  DATA_CORRUPT: 'a block the read needs failed its checksum',
  DEADLINE_EXCEEDED: 'the Mantis-Deadline-Ms budget ran out before the work started; nothing was applied',
  CACHE_DISABLED: 'the cache is off (--cache-mb 0) and the policy needs it',
  DEPENDENCY_NOT_FOUND: 'no such dependency edge',
  DEPENDENCY_LIMIT: 'the dependency graph is full (200,000 edges)',
  TAG_LIMIT: 'the tag index is full (1,000,000 tagged keys)',
  TXN_ABORTED: 'the transaction was rolled back or aborted',
  TXN_CONFLICT: 'a conflict with another transaction or a failed condition (error.key, error.reason); retry the whole transaction',
  TXN_NOT_FOUND: 'no such transaction',
  TXN_EXPIRED: 'the transaction was idle past its timeout_ms',
  TXN_SNAPSHOT_TOO_OLD: 'the transaction is older than --txn-max-age-ms, or its snapshot was given up',
  TXN_LIMIT: 'too many transactions are open (retryable)',
  TXN_OUTCOME_UNKNOWN: 'the commit may or may not have happened; read before retrying',
  BAD_QUERY: 'a malformed filter, update, pipeline, query or aggregate',
  DUPLICATE_KEY: 'the _id, primary key or unique index value is taken (error.index)',
  DOC_VALIDATION: 'the document fails the collection\'s validator (error.path)',
  DOC_TOO_LARGE: 'a document is over 16 MiB',
  COLLECTION_NOT_FOUND: 'no such collection',
  DOC_NOT_FOUND: 'no document with that _id',
  INDEX_NOT_FOUND: 'no such index',
  INDEX_EXISTS: 'an index of that name exists with another definition',
  AGGREGATE_MEMORY_LIMIT: 'a blocking stage needs more memory than allowed (allow_disk_use spills)',
  CURSOR_INVALID: 'the cursor or resume token is not one this query can use',
  TABLE_NOT_FOUND: 'no such table',
  TABLE_EXISTS: 'a table of that name exists',
  COLUMN_EXISTS: 'a column of that name exists',
  UNKNOWN_COLUMN: 'the table has no such column (error.column)',
  TYPE_MISMATCH: 'a value is not of its column\'s type (error.column, error.row)',
  NOT_NULL_VIOLATION: 'a NOT NULL column has no value',
  INVALID_SCHEMA: 'a bad table, column or index definition',
  SyntaxException: 'the CQL statement does not parse',
  Invalid: 'the CQL statement is invalid',
  AlreadyExists: 'the CQL table or index exists',
  SQL_SYNTAX_ERROR: 'the SQL statement does not parse (sqlstate 42601)',
  SQL_UNDEFINED_TABLE: 'no such table or relation (42P01)',
  SQL_UNDEFINED_COLUMN: 'no such column (42703)',
  SQL_AMBIGUOUS_COLUMN: 'an ambiguous column reference (42702)',
  SQL_UNDEFINED_FUNCTION: 'no such function or operator (42883)',
  SQL_TYPE_MISMATCH: 'a type mismatch (42804)',
  SQL_DIVISION_BY_ZERO: 'division by zero (22012)',
  SQL_OUT_OF_RANGE: 'a value out of range (22003)',
  SQL_INVALID_TEXT: 'text that is not a value of its type (22P02)',
  SQL_GROUPING_ERROR: 'a column must appear in GROUP BY (42803)',
  SQL_CARDINALITY: 'a subquery returned more than one row (21000)',
  SQL_NOT_SUPPORTED: 'a feature that is not supported (0A000)',
  SQL_MEMORY_LIMIT: 'the statement needs more than --sql-memory-mb (53200)',
  SQL_CONSTRAINT: 'a constraint is violated (23xxx)',
  SQL_DUPLICATE_OBJECT: 'the object exists (42P07, 42710)',
  SQL_INVALID_PARAMETER: 'a bad parameter or request field (22023)',
  SQL_ERROR: 'another SQL error (error.sqlstate says which)',
  SQL_CANCELED: 'the statement was canceled (57014)',
  UNAUTHORIZED: 'no credential, or a bad one (WWW-Authenticate: Bearer …)',
  FORBIDDEN: 'the credential lacks a permission (error.permission names it)',
  RATE_LIMITED: 'a rate limit or the per-IP connection limit (Retry-After)',
  ACCOUNT_LOCKED: 'too many failed logins (Retry-After)',
  CSRF_FAILED: 'a session-cookie request other than GET without a matching X-CSRF-Token',
  USER_EXISTS: 'the user exists',
  USER_NOT_FOUND: 'no such user',
  ROLE_NOT_FOUND: 'no such custom role',
  POLICY_NOT_FOUND: 'no such policy',
  OAUTH_FAILED: 'the OAuth exchange failed (error.reason)',
  OVERLOADED: 'the server is over capacity; retry shortly',
  BACKUPS_DISABLED: 'backups are off: start the server with --backup-dir DIR',
  BACKUP_NOT_FOUND: 'no such backup',
  BACKUP_IN_PROGRESS: 'a backup is being taken; retry when it is done',
  INVALID_PATH: 'the storage path is not inside the storage roots',
  INTERNAL: 'internal error; see the server log',
};

const TAGS: readonly { name: Tag; description: string }[] = [
  { name: 'Health', description: 'Liveness, readiness and the Prometheus metrics.' },
  { name: 'Key-value', description: 'Keys of 1–1024 bytes of UTF-8; values of any bytes with their content type, an optional TTL and cache tags.' },
  { name: 'Cache', description: 'Cache statistics, policies, explicit invalidation and dependencies between keys.' },
  { name: 'Streams', description: 'Long-lived streams served outside the request cycle: server-sent events and the WebSocket /ws.' },
  { name: 'Transactions', description: 'Interactive transactions (begin, use with the Mantis-Txn header, commit or roll back) and one-shot atomic execution.' },
  { name: 'Documents', description: 'A document store with MongoDB\'s query language; bodies and answers are relaxed Extended JSON.' },
  { name: 'Tables', description: 'Columnar tables with typed columns and a primary key.' },
  { name: 'CQL', description: 'Cassandra Query Language statements over the tables.' },
  { name: 'SQL', description: 'PostgreSQL-dialect SQL over every model.' },
  { name: 'Auth', description: 'Sessions, users, API keys, roles and row-level security policies.' },
  { name: 'Admin', description: 'The audit log, the configuration, rate limits and the route table.' },
  { name: 'Operations', description: 'Live metrics, metric history and alerts.' },
  { name: 'Backups', description: 'Backups and the storage browser.' },
  { name: 'API description', description: 'This document.' },
  { name: 'Dashboard', description: 'The browser dashboard\'s static files.' },
];

const SECURITY_SCHEMES = {
  bearerJwt: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A session token from POST /api/v1/auth/login, or a JWT of an outside issuer the server trusts.',
  },
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'mk_…',
    description: 'An API key from POST /api/v1/auth/keys, sent as Authorization: Bearer mk_….',
  },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: 'mantis_session',
    description: 'The session cookie login sets (the dashboard uses it). Methods other than GET and HEAD also need the X-CSRF-Token header.',
  },
  csrfToken: {
    type: 'apiKey',
    in: 'header',
    name: 'X-CSRF-Token',
    description: 'The mantis_csrf cookie\'s value (csrf_token in the login answer), with the session cookie on methods other than GET and HEAD.',
  },
  accessToken: {
    type: 'apiKey',
    in: 'query',
    name: 'access_token',
    description: 'The streams only (a browser cannot set headers on a WebSocket or an EventSource): a token or API key in the query.',
  },
};

const PARAMETERS = {
  MantisTxn: {
    name: 'Mantis-Txn',
    in: 'header',
    required: false,
    description: 'Run the request inside this transaction (the id POST /api/v1/txn answered): 1–255 printable characters, no "/".',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
    example: 'tmiv2c8w-0',
  },
  MantisDeadlineMs: {
    name: 'Mantis-Deadline-Ms',
    in: 'header',
    required: false,
    description:
      'The time the caller still gives the request, in whole milliseconds from its arrival (0..86400000). When it runs out before the work starts the answer is 504 DEADLINE_EXCEEDED and nothing was applied; a malformed value is 400 INVALID_PARAMETER.',
    schema: { type: 'integer', minimum: 0, maximum: 86_400_000 },
    example: 2000,
  },
};

const UNSAFE = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

/** The codes any route of this kind can answer besides its own (the listener, the gate, the body reader). */
export function commonErrors(s: RouteSpec): Code[] {
  const codes: Code[] = ['INTERNAL', 'SHUTTING_DOWN', 'RATE_LIMITED'];
  if (s.transport === undefined && !neverShed(s.path)) codes.push('OVERLOADED');
  if (s.permission !== 'public') {
    codes.push('UNAUTHORIZED');
    if (s.permission !== 'authenticated') codes.push('FORBIDDEN');
    if (UNSAFE.has(s.method)) codes.push('CSRF_FAILED');
  }
  if (s.body !== undefined) codes.push(s.path === '/api/v1/kv/{key}' ? 'VALUE_TOO_LARGE' : 'BODY_TOO_LARGE');
  const refs = (s.params ?? []).flatMap((p) => ('ref' in p ? [p.ref] : []));
  if (refs.includes('MantisDeadlineMs')) codes.push('INVALID_PARAMETER', 'DEADLINE_EXCEEDED');
  if (refs.includes('MantisTxn')) codes.push('INVALID_PARAMETER');
  return codes;
}

/** Every code an operation can answer: its own and the common ones, each once, in status order. */
export function errorCodesOf(s: RouteSpec): Code[] {
  const all = [...new Set<Code>([...s.errors, ...commonErrors(s)])];
  return all.sort((a, b) => httpStatusOf(a) - httpStatusOf(b) || a.localeCompare(b));
}

function operationIdOf(s: RouteSpec): string {
  if (s.operationId !== undefined) return s.operationId;
  const words = s.path
    .replace(/^\/api\/v1\//, '/')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '');
  return s.method.toLowerCase() + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

function parameterOf(p: ParamSpec | ParamRef): Record<string, unknown> {
  if ('ref' in p) return { $ref: `#/components/parameters/${p.ref}` };
  const param = p;
  const description = param.rest === true ? `${param.description} It may contain "/"; percent-encode other reserved characters.` : param.description;
  return {
    name: param.name,
    in: param.in,
    required: param.in === 'path' ? true : param.required === true,
    description,
    schema: param.schema,
    ...(param.example === undefined ? {} : { example: param.example }),
  };
}

function contentOf(content: ResponseSpec['content']): Record<string, unknown> | undefined {
  if (content === undefined) return undefined;
  return Object.fromEntries(Object.entries(content).map(([type, m]) => [type, { schema: m.schema, ...(m.example === undefined ? {} : { example: m.example }) }]));
}

function codeList(codes: readonly Code[]): string {
  return codes.map((c) => `- \`${c}\`: ${ERROR_CODE_DOCS[c]}`).join('\n');
}

function errorSchema(codes: readonly Code[]): JsonSchema {
  return {
    allOf: [
      { $ref: '#/components/schemas/ErrorEnvelope' },
      { properties: { error: { properties: { code: { enum: [...codes] } } } } },
    ],
  };
}

function errorResponse(status: number, codes: readonly Code[], noBody: boolean): Record<string, unknown> {
  const first = codes[0];
  const retry = codes.some(isRetryable) ? { headers: { 'Retry-After': { description: 'Seconds to wait before sending the request again (retryable codes).', schema: { type: 'integer' } } } } : {};
  return {
    description: `${STATUS_TEXT[status] ?? 'Error'}. The error envelope; error.code is one of:\n\n${codeList(codes)}`,
    ...retry,
    ...(noBody
      ? {}
      : {
          content: {
            'application/json': {
              schema: errorSchema(codes),
              example: { success: false, error: { code: first, message: ERROR_CODE_DOCS[first], retryable: isRetryable(first) } },
            },
          },
        }),
    'x-mantis-error-codes': [...codes],
  };
}

function securityOf(s: RouteSpec): Record<string, string[]>[] {
  if (s.permission === 'public') return [];
  const cookie: Record<string, string[]> = UNSAFE.has(s.method) ? { sessionCookie: [], csrfToken: [] } : { sessionCookie: [] };
  const out: Record<string, string[]>[] = [{ bearerJwt: [] }, { apiKey: [] }, cookie];
  if (s.transport !== undefined) out.push({ accessToken: [] });
  return out;
}

function permissionText(s: RouteSpec): string {
  const need = s.permission === 'public'
    ? 'Public: no credential is needed.'
    : s.permission === 'authenticated'
      ? 'Needs any valid credential (with --auth on).'
      : `Needs the permission \`${s.permission}\` (resource:action; {x} is the parameter's value) with --auth on.`;
  return s.permissionNote === undefined ? need : `${need} ${s.permissionNote}`;
}

function operationOf(s: RouteSpec, served: string): Record<string, unknown> {
  const codes = errorCodesOf(s);
  const responses: Record<string, unknown> = {};
  for (const r of s.responses) {
    responses[String(r.status)] = {
      description: r.description,
      ...(r.headers === undefined ? {} : { headers: r.headers }),
      ...(r.content === undefined ? {} : { content: contentOf(r.content) }),
    };
  }
  const byStatus = new Map<number, Code[]>();
  for (const c of codes) byStatus.set(httpStatusOf(c), [...(byStatus.get(httpStatusOf(c)) ?? []), c]);
  for (const [status, list] of [...byStatus.entries()].sort((a, b) => a[0] - b[0])) {
    const own = responses[String(status)] as Record<string, unknown> | undefined;
    if (own === undefined) responses[String(status)] = errorResponse(status, list, s.method === 'HEAD');
    else responses[String(status)] = { ...own, description: `${String(own.description)}\n\nerror.code is one of:\n\n${codeList(list)}`, 'x-mantis-error-codes': list };
  }
  const description = [s.description, `**Permission.** ${permissionText(s)}`].filter((d) => d !== undefined).join('\n\n');
  return {
    operationId: operationIdOf(s),
    tags: [s.tag],
    summary: s.summary,
    description,
    ...(s.params === undefined || s.params.length === 0 ? {} : { parameters: s.params.map(parameterOf) }),
    ...(s.body === undefined
      ? {}
      : { requestBody: { ...(s.body.description === undefined ? {} : { description: s.body.description }), required: s.body.required ?? true, content: contentOf(s.body.content) } }),
    responses,
    security: securityOf(s),
    'x-mantis-permission': s.permission,
    'x-mantis-error-codes': codes,
    'x-mantis-route': served,
    ...(s.transport === undefined ? {} : { 'x-mantis-transport': s.transport }),
  };
}

export type ServedSpec = { readonly spec: RouteSpec; readonly route: string };

/** Every operation of an app's registry, with the registration that serves it; then the native routes. */
export function servedSpecs(app: Hono<{ Bindings: Bindings }>, native: readonly RouteSpec[]): ServedSpec[] {
  return [...registrationsOf(app).flatMap((r) => r.specs.map((spec) => ({ spec, route: r.route }))), ...native.map((spec) => ({ spec, route: routeLabelOf(spec) }))];
}

export function buildOpenApi(served: readonly ServedSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const used = new Set<Tag>();
  // Grouped as the tags are listed (Health, Key-value, Cache …), in registration order within a tag.
  const rank = new Map(TAGS.map((t, i) => [t.name, i]));
  const ordered = served.map((s, i) => ({ s, i })).sort((a, b) => (rank.get(a.s.spec.tag) ?? 99) - (rank.get(b.s.spec.tag) ?? 99) || a.i - b.i);
  for (const { spec, route: r } of ordered.map((o) => o.s)) {
    const item = (paths[spec.path] ??= {});
    const method = spec.method.toLowerCase();
    if (item[method] !== undefined) throw new Error(`two specs for ${spec.method} ${spec.path}`);
    item[method] = operationOf(spec, r);
    used.add(spec.tag);
  }
  const codes = Object.values(ErrorCode) as Code[];
  return {
    openapi: '3.1.0',
    info: {
      title: 'MantisDB HTTP API',
      version,
      summary: 'Key-value with cache, documents, columnar tables, CQL and SQL in one server.',
      description: [
        'Generated from the route definitions the server registers (src/http/api-spec.ts); every route it answers is here.',
        'JSON answers use one envelope: `{"success":true,"data":…,"meta":{…}}`, or `{"success":false,"error":{"code","message","retryable",…}}` with the status of the code (`x-mantis-error-codes` below maps each code to its status). Errors whose `retryable` is true carry `Retry-After`.',
        'With `--auth off` (the dev profile) no credential is needed. With `--auth on` every route but the public ones needs `Authorization: Bearer <JWT or API key>`, or the session cookie (plus `X-CSRF-Token` on methods other than GET and HEAD); `x-mantis-permission` on each operation says what the credential must grant.',
        'HEAD is answered wherever GET is (not on the streams). A method outside GET, HEAD, PUT, POST, PATCH, DELETE and OPTIONS is 405 METHOD_NOT_ALLOWED; OPTIONS (a CORS preflight) is 204 on any path; an unknown path is 404 NOT_FOUND (401 first for an anonymous caller with auth on).',
      ].join('\n\n'),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: '/', description: 'the server that serves this document' }],
    tags: TAGS.filter((t) => used.has(t.name)),
    paths,
    components: {
      schemas: SCHEMAS,
      parameters: PARAMETERS,
      securitySchemes: SECURITY_SCHEMES,
    },
    'x-mantis-error-codes': Object.fromEntries(codes.map((c) => [c, { status: httpStatusOf(c), retryable: isRetryable(c), description: ERROR_CODE_DOCS[c] }])),
  };
}

// ---- the routes --------------------------------------------------------------------------------

/** The package's version (package.json above this file, in src/ or in dist/src/). */
export function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mantisdb' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return '0.0.0';
}


const DOC_HEADERS = { 'Cache-Control': { description: 'no-cache: revalidate (If-None-Match) before using a stored copy.', schema: str() }, ETag: { description: 'The document\'s hash.', schema: str() } };

function docSpec(path: string, format: 'JSON' | 'YAML', contentType: string): RouteSpec {
  return {
    method: 'GET',
    path,
    tag: 'API description',
    summary: `This OpenAPI 3.1 description, as ${format}`,
    description: 'Generated from the route definitions the server registers. Answers 304 to an If-None-Match naming the current ETag; gzipped when Accept-Encoding allows.',
    params: [
      { name: 'If-None-Match', in: 'header', description: 'An ETag of an earlier answer.', schema: str() },
      { name: 'Accept-Encoding', in: 'header', description: 'gzip is honoured.', schema: str() },
    ],
    responses: [
      format === 'JSON'
        ? raw(200, 'The OpenAPI document (JSON).', contentType, freeObject('an OpenAPI 3.1 document'), { openapi: '3.1.0', info: { title: 'MantisDB HTTP API', version: '0.1.0' }, paths: {} }, DOC_HEADERS)
        : raw(200, 'The OpenAPI document (YAML).', contentType, str('an OpenAPI 3.1 document in YAML'), 'openapi: "3.1.0"\ninfo:\n  title: "MantisDB HTTP API"\n  version: "0.1.0"\npaths: {}\n', DOC_HEADERS),
      empty(304, 'Not modified: the ETag given is current.', DOC_HEADERS),
    ],
    errors: [],
    permission: 'public',
  };
}

export const OPENAPI_SPECS: readonly RouteSpec[] = [docSpec(OPENAPI_JSON_PATH, 'JSON', 'application/json'), docSpec(OPENAPI_YAML_PATH, 'YAML', 'application/yaml')];

/**
 * Registers GET /api/docs/openapi.json and .yaml. The document covers every route registered on
 * `app` by the time of the first request, plus `native` (the routes served outside Hono).
 */
export function registerApiDocs(app: Hono<{ Bindings: Bindings }>, native: readonly RouteSpec[]): void {
  const version = packageVersion();
  // Built on the first request for each form: the JSON (tens of ms) here, the YAML (about a third of
  // a second) from the JSON on a worker thread.
  let json: CachedBytes | null = null;
  let yaml: Promise<CachedBytes> | null = null;
  const jsonDoc = (): CachedBytes =>
    (json ??= cachedBytes(Buffer.from(JSON.stringify(buildOpenApi(servedSpecs(app, native), version)), 'utf8'), 'application/json; charset=utf-8', 'no-cache'));
  const yamlDoc = (): Promise<CachedBytes> => {
    if (yaml === null) {
      const converting = toYamlOffThread(jsonDoc().body.toString('utf8')).then((text) => cachedBytes(Buffer.from(text, 'utf8'), 'application/yaml; charset=utf-8', 'no-cache'));
      // A failed conversion is tried again by the next request.
      converting.catch(() => (yaml = null));
      yaml = converting;
    }
    return yaml;
  };
  const serve = async (c: Context<{ Bindings: Bindings }>, which: 'json' | 'yaml'): Promise<Response> =>
    answerCached(which === 'json' ? jsonDoc() : await yamlDoc(), c.req.header('if-none-match'), c.req.header('accept-encoding'));
  route(app, OPENAPI_SPECS[0], (c) => serve(c, 'json'));
  route(app, OPENAPI_SPECS[1], (c) => serve(c, 'yaml'));
}
