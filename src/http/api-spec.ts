// The routes as data: every route the server registers carries a RouteSpec
// (method, OpenAPI path, parameters, body, answers, error codes, permission,
// examples), and it is registered through route() or dispatch() here, which
// hand the handler to Hono and record the spec in a registry kept per app.
// The OpenAPI description (openapi.ts) is built from that registry (plus the
// native stream routes, whose specs invalidation-streams.ts exports), so a
// route cannot be served without being described. Schema helpers below keep
// the specs short; shared schemas live in api-schemas.ts.

import type { Context, Hono } from 'hono';
import type { ErrorCode } from '../../shared/errors.js';
import type { Bindings } from './hono-app.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export type ErrorList = readonly ErrorCode[];

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** Who may call a route with auth on: nobody needs a credential, any credential, or a permission ("docs:{c}:write"; {x} is a parameter). */
export type Permission = 'public' | 'authenticated' | `${string}:read` | `${string}:write`;

export type Tag =
  | 'Health'
  | 'Operations'
  | 'Backups'
  | 'Key-value'
  | 'Cache'
  | 'Streams'
  | 'Transactions'
  | 'Documents'
  | 'Tables'
  | 'CQL'
  | 'SQL'
  | 'Auth'
  | 'Admin'
  | 'API description'
  | 'Dashboard';

export type ParamSpec = {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly description: string;
  readonly schema: JsonSchema;
  /** Path parameters are always required. */
  readonly required?: boolean;
  /** A value the examples (and the route test) use. */
  readonly example?: unknown;
  /** A path parameter that takes the rest of the path, "/" included (Hono's "*"). */
  readonly rest?: boolean;
};

/** A parameter shared by many routes, described once in components.parameters. */
export type ParamRef = { readonly ref: 'MantisTxn' | 'MantisDeadlineMs' };

export type MediaSpec = { readonly schema: JsonSchema; readonly example?: unknown };

export type BodySpec = {
  readonly description?: string;
  /** Default true. */
  readonly required?: boolean;
  /** By media type. */
  readonly content: Readonly<Record<string, MediaSpec>>;
};

export type HeaderSpec = { readonly description: string; readonly schema: JsonSchema };

export type ResponseSpec = {
  readonly status: number;
  readonly description: string;
  /** By media type; none for an answer without a body (HEAD, 302, 304, 101). */
  readonly content?: Readonly<Record<string, MediaSpec>>;
  readonly headers?: Readonly<Record<string, HeaderSpec>>;
};

export type RouteSpec = {
  readonly method: HttpMethod;
  /** The OpenAPI path: "/api/v1/kv/{key}". */
  readonly path: string;
  readonly tag: Tag;
  readonly summary: string;
  readonly description?: string;
  readonly params?: readonly (ParamSpec | ParamRef)[];
  readonly body?: BodySpec;
  /** The answers other than the error envelope (the success answers, and error answers of another shape). */
  readonly responses: readonly ResponseSpec[];
  /**
   * The error codes the route itself can answer. The codes every route of its kind can answer
   * (UNAUTHORIZED, RATE_LIMITED, OVERLOADED, BODY_TOO_LARGE, a bad Mantis-Deadline-Ms …) are
   * added by the description builder (openapi.ts).
   */
  readonly errors: readonly ErrorCode[];
  /** What the caller needs with --auth on (src/security/access.ts). */
  readonly permission: Permission;
  /** Checks past the gate (the keys a body names, the tables a statement reads …). */
  readonly permissionNote?: string;
  /** Served natively by uWebSockets.js outside Hono: a server-sent event stream or the WebSocket. */
  readonly transport?: 'sse' | 'websocket';
  /** Overrides the operation id derived from method and path. */
  readonly operationId?: string;
};

/** One registration: the route as the routes listing names it ("GET /api/v1/kv/*") and the operations it serves. */
export type Registration = { readonly route: string; readonly specs: readonly RouteSpec[] };

type AppEnv = { Bindings: Bindings };
export type RouteHandler = (c: Context<AppEnv>) => Response | Promise<Response>;

const registry = new WeakMap<Hono<AppEnv>, Registration[]>();

function record(app: Hono<AppEnv>, registration: Registration): void {
  let list = registry.get(app);
  if (list === undefined) registry.set(app, (list = []));
  list.push(registration);
}

/** A path parameter of the route that matched (Hono matched the pattern that names it, so it is there). */
export function pathParamOf(c: Context<AppEnv>, name: string): string {
  const value = c.req.param(name);
  if (value === undefined) throw new Error(`assertion failed: the route has no path parameter "${name}"`);
  return value;
}

/** Every registration made through route(), dispatch() and fallback() on this app, in order. */
export function registrationsOf(app: Hono<AppEnv>): readonly Registration[] {
  return registry.get(app) ?? [];
}

/** The route pattern of a spec's path: {name} → :name, a rest parameter → "*". */
export function routePathOf(spec: Pick<RouteSpec, 'path' | 'params'>): string {
  return spec.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const param = spec.params?.find((p): p is ParamSpec => 'name' in p && p.name === name && p.in === 'path');
    return param?.rest === true ? '*' : `:${name}`;
  });
}

/** "GET /api/v1/docs/:c/changes": how the routes listing (GET /api/v1/admin/routes) names a route. */
export function routeLabelOf(spec: RouteSpec): string {
  return `${spec.method} ${routePathOf(spec)}`;
}

/**
 * Registers one route: the handler under the first spec's method and path, every spec recorded.
 * More specs document what the same registration also serves (HEAD, which Hono answers with the
 * GET route).
 */
export function route(app: Hono<AppEnv>, specs: RouteSpec | readonly RouteSpec[], handler: RouteHandler): void {
  const list = Array.isArray(specs) ? (specs as readonly RouteSpec[]) : [specs as RouteSpec];
  const [first] = list;
  const path = routePathOf(first);
  for (const s of list) {
    if (routePathOf(s) !== path) throw new Error(`route(): ${s.method} ${s.path} is not served by ${first.method} ${path}`);
  }
  app.on(first.method, path, handler);
  record(app, { route: `${first.method} ${path}`, specs: list });
}

/**
 * Registers a dispatcher: one handler for every method under `paths` (Hono's ALL), which routes
 * internally to the operations `specs` describe (the document and table routes, SQL, CQL).
 */
export function dispatch(app: Hono<AppEnv>, paths: readonly string[], specs: readonly RouteSpec[], handler: RouteHandler): void {
  for (const path of paths) {
    const served = specs.filter((s) => servedBy(path, s.path));
    if (served.length === 0) throw new Error(`dispatch(): no spec is served by ${path}`);
    app.all(path, handler);
    record(app, { route: `ALL ${path}`, specs: served });
  }
  const stray = specs.find((s) => !paths.some((p) => servedBy(p, s.path)));
  if (stray !== undefined) throw new Error(`dispatch(): ${stray.method} ${stray.path} is under none of ${paths.join(', ')}`);
}

/**
 * Registers the answer to the other methods on a path whose operations are registered already
 * (405 METHOD_NOT_ALLOWED naming the methods that work). It serves no operation of its own.
 */
export function fallback(app: Hono<AppEnv>, path: string, handler: RouteHandler): void {
  app.all(path, handler);
  record(app, { route: `ALL ${path}`, specs: [] });
}

/** Does a route pattern ("/api/v1/docs/*", ":c") cover an OpenAPI path ("/api/v1/docs/{c}/find")? */
export function servedBy(pattern: string, openApiPath: string): boolean {
  const p = pattern.split('/');
  const o = openApiPath.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') return o.length > i;
    if (i >= o.length) return false;
    if (p[i].startsWith(':')) {
      if (!/^\{[^}]+\}$/.test(o[i])) return false;
      continue;
    }
    if (p[i] !== o[i]) return false;
  }
  return p.length === o.length;
}

// ---- parameters -------------------------------------------------------------------------

export const TXN: ParamRef = { ref: 'MantisTxn' };
export const DEADLINE: ParamRef = { ref: 'MantisDeadlineMs' };

export function pathParam(name: string, description: string, example: unknown, schema: JsonSchema = { type: 'string' }): ParamSpec {
  return { name, in: 'path', description, schema, example, required: true };
}

export function queryParam(name: string, description: string, schema: JsonSchema, example?: unknown, required = false): ParamSpec {
  return { name, in: 'query', description, schema, required, ...(example === undefined ? {} : { example }) };
}

export function headerParam(name: string, description: string, schema: JsonSchema, example?: unknown): ParamSpec {
  return { name, in: 'header', description, schema, ...(example === undefined ? {} : { example }) };
}

// ---- schemas --------------------------------------------------------------------------------

const described = (description: string | undefined): JsonSchema => (description === undefined ? {} : { description });

export const str = (description?: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', ...described(description), ...extra });
export const int = (description?: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'integer', ...described(description), ...extra });
export const num = (description?: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'number', ...described(description), ...extra });
export const bool = (description?: string): JsonSchema => ({ type: 'boolean', ...described(description) });
export const nul: JsonSchema = { type: 'null' };
export const any = (description?: string): JsonSchema => described(description);
export const arr = (items: JsonSchema, description?: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'array', items, ...described(description), ...extra });
export const oneOf = (...schemas: JsonSchema[]): JsonSchema => ({ oneOf: schemas });
export const anyOf = (...schemas: JsonSchema[]): JsonSchema => ({ anyOf: schemas });
export const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, nul] });
export const enumOf = (values: readonly (string | number)[], description?: string): JsonSchema => ({ enum: [...values], ...described(description) });
export const dateTime = (description?: string): JsonSchema => str(description, { format: 'date-time' });

/** An object with these properties (others allowed: answers may grow). */
export function obj(properties: Readonly<Record<string, JsonSchema>>, required: readonly string[] = [], description?: string): JsonSchema {
  return { type: 'object', properties, ...(required.length === 0 ? {} : { required: [...required] }), ...described(description) };
}

/** An object with only these properties: a request body whose other fields are refused (400). */
export function closed(properties: Readonly<Record<string, JsonSchema>>, required: readonly string[] = [], description?: string): JsonSchema {
  return { ...obj(properties, required, description), additionalProperties: false };
}

/** A free-form object (a filter, a document, claims …). */
export const freeObject = (description?: string): JsonSchema => ({ type: 'object', ...described(description) });

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

// ---- bodies and answers ----------------------------------------------------------------------

export const JSON_TYPE = 'application/json';

/** A JSON request body. `lenient`: also read without a Content-Type or as text/plain (what fetch sends for a string). */
export function jsonBody(schema: JsonSchema, example: unknown, options: { required?: boolean; description?: string; lenient?: boolean } = {}): BodySpec {
  const note = options.lenient === true ? 'JSON; a body without a Content-Type or sent as text/plain is read as JSON too. ' : 'JSON (Content-Type: application/json). ';
  return {
    description: `${note}${options.description ?? ''}`.trim(),
    required: options.required ?? true,
    content: { [JSON_TYPE]: { schema, example } },
  };
}

/** The success envelope {success: true, data, meta}. */
export function envelope(data: JsonSchema, meta: JsonSchema = closed({})): JsonSchema {
  return closed({ success: { const: true }, data, meta }, ['success', 'data', 'meta']);
}

export type OkOptions = {
  readonly status?: number;
  readonly meta?: JsonSchema;
  readonly metaExample?: Readonly<Record<string, unknown>>;
  readonly headers?: Readonly<Record<string, HeaderSpec>>;
};

/** A success answer in the envelope: data's schema and an example of data (and of meta). */
export function ok(description: string, data: JsonSchema, example: unknown, options: OkOptions = {}): ResponseSpec {
  return {
    status: options.status ?? 200,
    description,
    content: { [JSON_TYPE]: { schema: envelope(data, options.meta), example: { success: true, data: example, meta: options.metaExample ?? {} } } },
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  };
}

/** An answer that is not the envelope (a value, text, a stream). */
export function raw(status: number, description: string, contentType: string, schema: JsonSchema, example?: unknown, headers?: Readonly<Record<string, HeaderSpec>>): ResponseSpec {
  return {
    status,
    description,
    content: { [contentType]: { schema, ...(example === undefined ? {} : { example }) } },
    ...(headers === undefined ? {} : { headers }),
  };
}

/** An answer without a body. */
export function empty(status: number, description: string, headers?: Readonly<Record<string, HeaderSpec>>): ResponseSpec {
  return { status, description, ...(headers === undefined ? {} : { headers }) };
}

// ---- error codes shared by many routes -------------------------------------------------------

/** A read that reaches the shards. */
export const SHARD_READ: readonly ErrorCode[] = ['SHARD_UNAVAILABLE', 'SHARD_BUSY', 'DATA_CORRUPT'];
/** A write that reaches the shards. */
export const SHARD_WRITE: readonly ErrorCode[] = ['SHARD_UNAVAILABLE', 'SHARD_BUSY', 'STORAGE_IO', 'STORAGE_FULL'];
/** A JSON body read by jsonBody() (json-body.ts). */
export const JSON_ERRORS: readonly ErrorCode[] = ['INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_PARAMETER'];
/** The transaction errors of a request that runs inside one (Mantis-Txn). */
export const TXN_ERRORS: readonly ErrorCode[] = ['TXN_NOT_FOUND', 'TXN_ABORTED', 'TXN_EXPIRED', 'TXN_SNAPSHOT_TOO_OLD', 'TXN_CONFLICT'];
