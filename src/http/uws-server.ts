// The listener: uWebSockets.js (native build verified at start). Every
// request is read here — headers at once, the body with its size limit
// enforced while it streams, so an oversized value is refused with 413
// before it is buffered. The hot KV routes, the transaction routes, the
// document and table routes and CQL are then served natively through the
// shared handlers (the fast path); everything else, or everything when the
// fast path is off, goes through the Hono app.

import uWS from 'uWebSockets.js';
import type { Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import { ConfigError } from '../config.js';
import { LIMITS } from '../../shared/limits.js';
import type { Logger } from '../log.js';
import type { HttpMetrics } from '../metrics/metrics.js';
import type { Bindings } from './hono-app.js';
import type { DeadlineHeader } from '../kv/index.js';
import type { KvHandlers } from './kv-handlers.js';
import { TXN_HEADER, type TxnKvHandlers, type TxnRouteHandlers } from './txn-routes.js';
import type { DocHandlers } from './doc-routes.js';
import type { TableHandlers } from './table-routes.js';
import type { CqlHandler } from './cql-routes.js';
import type { SqlHandler } from './sql-routes.js';
import { errorReply, replyForError, statusLine, STREAM_HEADER, type HttpReply } from './reply.js';
import { bodyLimitOf, KV_ITEM_PREFIX, routeOf, type RouteLabel } from './routes.js';
import type { Security } from '../security/security.js';
import type { Principal } from '../security/principal.js';
import { kvAccessFor, type KvAccess } from '../security/kv-access.js';
import type { OverloadGuard } from './overload.js';

export type ListenerOptions = {
  readonly host: string;
  readonly port: number;
  readonly fastPath: boolean;
  readonly maxValueBytes: number;
  readonly kv: KvHandlers;
  /** The KV routes inside a transaction (a Mantis-Txn header). */
  readonly txnKv: TxnKvHandlers;
  /** POST /api/v1/txn, /execute, /:id/commit, /:id/rollback. */
  readonly txnRoutes: TxnRouteHandlers;
  /** Every /api/v1/docs route (served natively when given and the fast path is on). */
  readonly docs?: DocHandlers;
  /** Every /api/v1/tables route (served natively when given and the fast path is on). */
  readonly tables?: TableHandlers;
  /** POST /api/v1/cql (served natively when given and the fast path is on). */
  readonly cql?: CqlHandler;
  /** POST /api/v1/sql (served natively when given and the fast path is on). */
  readonly sql?: SqlHandler;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Hono's env generic is invariant
  readonly app: Hono<any>;
  readonly metrics: HttpMetrics;
  readonly log: Logger;
  /** Authentication, authorization, rate limits and response headers; absent: everything is open. */
  readonly security?: Security;
  /** Serve HTTPS with these PEM files (uWS's SSL app). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string } | undefined;
  /**
   * Routes served natively outside the request/response cycle (WebSocket, SSE streams), registered
   * before the catch-all. Their close() runs when the listener stops accepting: long-lived streams
   * are not requests in flight and must end for the shutdown to proceed.
   */
  readonly attach?: (app: uWS.TemplatedApp) => { close(): void };
  /** Admission control: sheds requests past capacity with 503 OVERLOADED (src/http/overload.ts); absent: nothing is shed. */
  readonly overload?: OverloadGuard;
};

export type Listener = {
  readonly port: number;
  /** Stops accepting connections; requests on open connections get 503 SHUTTING_DOWN. */
  stopAccepting(): void;
  /** Resolves when no request is in flight (or the timeout passes). */
  drained(timeoutMs: number): Promise<boolean>;
  /** Re-reads the TLS certificate and key (SIGHUP): new connections use them. */
  reloadTls(): Promise<void>;
  /** Requests in flight now, and requests shed (503 OVERLOADED) since the start. */
  load(): { inFlight: number; shed: number };
};

type Exchange = {
  readonly res: uWS.HttpResponse;
  readonly method: string;
  readonly route: RouteLabel;
  readonly started: number;
  aborted: boolean;
  finished: boolean;
  /** The client address when the gate read it. */
  ip?: string;
  /** Aborted when the client goes away (a SQL statement checks it between batches). */
  abort?: AbortController;
  /** CORS headers for this request's allowed Origin. */
  cors?: readonly (readonly [string, string])[];
  /** The client IP counted against --conn-limit-per-ip (released when the request finishes). */
  admitted?: string;
};

const isReply = (g: Principal | HttpReply): g is HttpReply => (g as HttpReply).status !== undefined;

function abortSignalOf(x: Exchange): AbortSignal {
  x.abort ??= new AbortController();
  if (x.aborted) x.abort.abort();
  return x.abort.signal;
}

const DEADLINE_HEADER = 'mantis-deadline-ms';
const BODY_METHODS = new Set(['put', 'post', 'patch']);
const EMPTY = new Uint8Array(0);
/** Methods a route may answer; others (TRACE, CONNECT, …) get 405 before any parsing. */
const KNOWN_METHODS = new Set(['get', 'head', 'put', 'post', 'patch', 'delete', 'options']);

export function assertNativeUws(): void {
  if (typeof (uWS as unknown as { getParts?: unknown }).getParts !== 'function') {
    throw new Error('uWebSockets.js native build did not load (the JavaScript fallback is not supported)');
  }
}

export async function listen(options: ListenerOptions): Promise<Listener> {
  assertNativeUws();
  const tls = options.tls;
  let reloadContexts = (): void => undefined;
  const makeApp = (): uWS.TemplatedApp => {
    if (tls === undefined) return uWS.App();
    try {
      return uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile });
    } catch {
      throw new ConfigError(`TLS: the certificate (--tls-cert ${tls.certFile}) or key (--tls-key ${tls.keyFile}) is not a valid PEM pair`);
    }
  };
  const state = { inFlight: 0, stopping: false, idle: [] as (() => void)[] };

  const security = options.security;
  const overload = options.overload;
  const securityHeaders = security?.headers ?? [];
  const finish = (x: Exchange, status: number): void => {
    if (x.finished) return;
    x.finished = true;
    state.inFlight--;
    if (x.admitted !== undefined) security?.leave(x.admitted);
    options.metrics.observe(x.route, x.method, status, (performance.now() - x.started) / 1000);
    if (state.inFlight === 0) for (const wake of state.idle.splice(0)) wake();
  };

  /** Status and headers (inside a cork). */
  const writeHead = (x: Exchange, reply: HttpReply): void => {
    x.res.writeStatus(statusLine(reply.status));
    x.res.writeHeader('Content-Type', reply.contentType);
    for (const [name, value] of securityHeaders) x.res.writeHeader(name, value);
    if (x.cors !== undefined) for (const [name, value] of x.cors) x.res.writeHeader(name, value);
    if (reply.headers !== undefined) for (const [name, value] of reply.headers) x.res.writeHeader(name, value);
  };

  /** Writes a streamed body as the socket drains; a failure mid-way cuts the connection. */
  const sendStream = (x: Exchange, reply: HttpReply, stream: AsyncIterable<Uint8Array>): void => {
    const iterator = stream[Symbol.asyncIterator]();
    let wake: (() => void) | null = null;
    x.res.onWritable(() => {
      const w = wake;
      wake = null;
      w?.();
      return true;
    });
    x.res.cork(() => writeHead(x, reply));
    void (async () => {
      try {
        for (;;) {
          const next = await iterator.next();
          if (x.aborted) break;
          if (next.done === true) {
            x.res.cork(() => x.res.end());
            break;
          }
          let ok = true;
          x.res.cork(() => {
            ok = x.res.write(next.value);
          });
          if (!ok && !x.aborted) await new Promise<void>((resolve) => (wake = resolve));
        }
      } catch (error) {
        options.log.error({ err: error }, 'a streamed answer failed part-way; closing the connection');
        if (!x.aborted) x.res.close();
      } finally {
        if (x.aborted) await iterator.return?.().catch(() => undefined);
        finish(x, reply.status);
      }
    })();
  };

  const send = (x: Exchange, reply: HttpReply, close = false): void => {
    if (x.aborted || x.finished) return;
    if (reply.stream !== undefined && x.method !== 'head') return sendStream(x, reply, reply.stream);
    x.res.cork(() => {
      writeHead(x, reply);
      if (x.method === 'head') {
        x.res.endWithoutBody(reply.headLength ?? (typeof reply.body === 'string' ? Buffer.byteLength(reply.body) : reply.body.length), close);
      } else {
        x.res.end(reply.body, close);
      }
    });
    finish(x, reply.status);
  };

  const fail = (x: Exchange, error: unknown): void =>
    send(x, replyForError(error, (e) => options.log.error({ err: e }, 'unexpected error in the listener')));


  const handler = (res: uWS.HttpResponse, req: uWS.HttpRequest): void => {
    const method = req.getMethod();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const route = routeOf(method, path);
    const x: Exchange = { res, method, route, started: performance.now(), aborted: false, finished: false };
    state.inFlight++;
    // uWS counts a HEAD answered by endWithoutBody as no answer unless an abort handler is attached.
    if (method === 'head' && security !== undefined) res.onAborted(() => (x.aborted = true));
    // Admission control: past capacity the request is shed (503 OVERLOADED) before any work is done.
    const shed = overload === undefined ? null : overload.check(path, state.inFlight - 1);
    if (shed !== null) {
      if (method === 'head') res.onAborted(() => (x.aborted = true));
      return send(x, shed);
    }
    // Security: identity, permission and rate limits are settled here, before the body is read.
    let principal: Principal | undefined;
    let pending: Promise<Principal | HttpReply> | null = null;
    if (security !== undefined) {
      let ipText: string | null = null;
      const ip = (): string => (ipText ??= Buffer.from(res.getRemoteAddressAsText()).toString('utf8'));
      if (security.corsEnabled) {
        const origin = req.getHeader('origin');
        if (origin !== '') x.cors = security.corsHeaders(origin, method === 'options');
      }
      if (method === 'options') {
        // A CORS preflight carries no credentials: answer it before the gate.
        return send(x, { status: 204, contentType: 'text/plain', body: '' });
      }
      if (security.active) {
        if (security.limiter.settings.connectionsPerIp > 0) {
          const refused = security.admit(ip());
          if (refused !== null) return send(x, refused, true);
          x.admitted = ip();
        }
        // The cookie and the CSRF header matter only without an Authorization header (each read crosses into uWS).
        const authorization = req.getHeader('authorization');
        const cookie = authorization === '' ? req.getHeader('cookie') : '';
        const gated = security.gate({
          route,
          method,
          rawPath: path,
          rawQuery: query,
          authorization,
          cookie,
          csrfHeader: cookie === '' ? '' : req.getHeader('x-csrf-token'),
          ip,
        });
        if (gated instanceof Promise) pending = gated;
        else if (isReply(gated)) return send(x, gated);
        else principal = gated;
      }
      if (path.startsWith('/api/v1/auth/')) ip();
      x.ip = ipText ?? undefined;
    }
    const kvRoute = route === '/api/v1/kv/:key' || route === '/api/v1/kv' || route === '/api/v1/kv/batch';
    const docsRoute = route.startsWith('/api/v1/docs');
    const tablesRoute = route.startsWith('/api/v1/tables');
    const cqlRoute = route === '/api/v1/cql';
    const sqlRoute = route === '/api/v1/sql';
    // Inside a transaction: never the cache (reads are at the transaction's snapshot).
    const txn = kvRoute || docsRoute || tablesRoute || cqlRoute || sqlRoute ? req.getHeader(TXN_HEADER) : '';
    // GET only: uWS counts endWithoutBody (HEAD) as no answer unless an abort handler is attached.
    const cacheable = options.fastPath && !state.stopping && route === '/api/v1/kv/:key' && method === 'get' && txn === '' && pending === null;
    if (cacheable) {
      // A cache hit is answered here, inside this callback: nothing is left in flight, so no abort handler.
      const early: DeadlineHeader = { header: req.getHeader(DEADLINE_HEADER) || undefined, receivedAtMs: Date.now() };
      const hit = options.kv.cachedGet(path.slice(KV_ITEM_PREFIX.length), false, early);
      if (hit !== null) return send(x, hit);
    }
    res.onAborted(() => {
      x.aborted = true;
      x.abort?.abort();
      finish(x, 499);
    });
    if (state.stopping) {
      send(x, errorReply(new MantisError('SHUTTING_DOWN', 'server is shutting down')), true);
      return;
    }
    if (!KNOWN_METHODS.has(method)) {
      send(x, errorReply(new MantisError('METHOD_NOT_ALLOWED', `${method.toUpperCase()} is not supported`)), true);
      return;
    }
    const contentType = req.getHeader('content-type') || undefined;
    const limit = bodyLimitOf(route, options.maxValueBytes, LIMITS.json_body_overhead_bytes);
    const declared = req.getHeader('content-length');
    // A DELETE may carry a body (DELETE /api/v1/cache/dependencies takes JSON); read it when declared.
    const hasBody = BODY_METHODS.has(method) || (method === 'delete' && ((declared !== '' && declared !== '0') || req.getHeader('transfer-encoding') !== ''));
    const docsFast = docsRoute && options.fastPath && options.docs !== undefined;
    const tablesFast = tablesRoute && options.fastPath && options.tables !== undefined;
    const cqlFast = cqlRoute && options.fastPath && options.cql !== undefined;
    const sqlFast = sqlRoute && options.fastPath && options.sql !== undefined;
    const accept = sqlFast ? req.getHeader('accept') || undefined : undefined;
    const headers = docsFast || tablesFast || cqlFast || sqlFast || (options.fastPath && isFastRoute(route, method)) ? null : collectHeaders(req);
    // The budget counts from arrival, so time spent reading the body is spent from it.
    const deadline: DeadlineHeader = { header: req.getHeader(DEADLINE_HEADER) || undefined, receivedAtMs: Date.now() };

    const dispatch = (body: Uint8Array | null): void => {
      if (pending !== null) {
        pending.then(
          (gated) => {
            if (isReply(gated)) return send(x, gated);
            principal = gated;
            serve(body);
          },
          (error: unknown) => fail(x, error),
        );
        return;
      }
      serve(body);
    };
    const serve = (body: Uint8Array | null): void => {
      // Only the routes that name keys in a body or list them use the caller's KV rules.
      const access = route === '/api/v1/kv' || route === '/api/v1/kv/batch' || route === '/api/v1/txn/execute' ? kvAccessFor(security, principal) : undefined;
      // A transaction is its owner's: another identity can neither use nor end it.
      const txnId = security?.authOn === true && principal !== undefined ? txnIdOfRequest(route, path, txn) : null;
      if (txnId !== null) {
        const refused = (security as Security).txnRefusal(txnId, principal as Principal);
        if (refused !== null) return send(x, refused);
      }
      const served = docsFast
        ? (options.docs as DocHandlers).handle({ method: method.toUpperCase(), rawPath: path, rawQuery: query, contentType, txn: txn === '' ? undefined : txn, deadline, body: body ?? EMPTY, principal })
        : tablesFast
        ? (options.tables as TableHandlers).handle({ method: method.toUpperCase(), rawPath: path, rawQuery: query, contentType, txn: txn === '' ? undefined : txn, deadline, body: body ?? EMPTY, principal })
        : cqlFast
        ? (options.cql as CqlHandler).handle({ method: method.toUpperCase(), contentType, txn: txn === '' ? undefined : txn, deadline, body: body ?? EMPTY, principal })
        : sqlFast
        ? (options.sql as SqlHandler).handle({ method: method.toUpperCase(), contentType, accept, txn: txn === '' ? undefined : txn, deadline, body: body ?? EMPTY, signal: abortSignalOf(x), principal })
        : headers === null
        ? txn === ''
          ? serveFast(options, x, { path, query, contentType, deadline, cacheTried: cacheable, access }, body)
          : serveTxn(options.txnKv, txn, x, { path, query, contentType, deadline, cacheTried: false, access }, body)
        : serveHono(options.app, x, { path, query, headers, receivedAtMs: deadline.receivedAtMs, principal, ip: x.ip }, body);
      served.then(
        (reply) => {
          if (security?.authOn === true && principal !== undefined) noteTxn(security, principal, route, reply, txnId);
          send(x, reply);
        },
        (error: unknown) => fail(x, error),
      );
    };
    if (!hasBody) return dispatch(null);
    readBody(x, declared, limit, (body) => dispatch(body), (bytes) => send(x, tooLarge(route, bytes, limit), true));
  };
  // Certificate reload: the port cannot be bound again while the old app's connections (or their
  // TIME_WAIT) hold it, and this uWS build cannot replace its default context. So every client
  // that sends SNI (any client connecting by host name) is served from a per-name context, added
  // on first sight by missingServerName; a reload replaces those contexts from the files. A client
  // connecting by bare IP (no SNI) keeps the certificate the server started with.
  const app = makeApp();
  const sniNames = new Set<string>();
  if (tls !== undefined) {
    const sni = app as unknown as {
      missingServerName(cb: (hostname: string) => void): void;
      addServerName(hostname: string, options: { cert_file_name: string; key_file_name: string }): void;
      removeServerName(hostname: string): void;
    };
    const contextOptions = { cert_file_name: tls.certFile, key_file_name: tls.keyFile };
    sni.missingServerName((hostname) => {
      if (sniNames.size >= 1024) return; // bounded: unknown names beyond this get the default context
      sni.addServerName(hostname, contextOptions);
      sniNames.add(hostname);
    });
    reloadContexts = () => {
      // A bad pair throws here (building a throwaway app reads both files) and leaves everything as it was.
      makeApp();
      for (const hostname of sniNames) {
        sni.removeServerName(hostname);
        sni.addServerName(hostname, contextOptions);
      }
    };
  }
  const streams = options.attach?.(app);
  app.any('/*', handler);
  const drained = (timeoutMs: number): Promise<boolean> =>
    state.inFlight === 0
      ? Promise.resolve(true)
      : new Promise((done) => {
          const timer = setTimeout(() => done(false), timeoutMs);
          state.idle.push(() => {
            clearTimeout(timer);
            done(true);
          });
        });

  const socket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    // Exclusive: without it uSockets sets SO_REUSEPORT, and a second server could share the port.
    listenExclusive(app, options.host, options.port, (s) => {
      if (s === false) reject(new Error(`cannot listen on ${options.host}:${options.port} (address in use or not available)`));
      else resolve(s);
    });
  });
  overload?.start();
  return {
    port: uWS.us_socket_local_port(socket),
    stopAccepting: () => {
      state.stopping = true;
      uWS.us_listen_socket_close(socket);
      streams?.close();
      overload?.stop();
    },
    load: () => ({ inFlight: state.inFlight, shed: overload?.shed ?? 0 }),
    reloadTls: async () => {
      if (tls === undefined || state.stopping) return;
      reloadContexts();
    },
    drained,
  };
}

/** The transaction a request uses: its Mantis-Txn header, or the id in a commit/rollback path. */
function txnIdOfRequest(route: RouteLabel, path: string, header: string): string | null {
  if (header !== '') return header.trim();
  if (route === '/api/v1/txn/:id/commit' || route === '/api/v1/txn/:id/rollback') {
    try {
      return decodeURIComponent(path.slice('/api/v1/txn/'.length, path.lastIndexOf('/')));
    } catch {
      return null;
    }
  }
  return null;
}

/** After the answer: a begun transaction is claimed by its principal; an ended one is released. */
function noteTxn(security: Security, principal: Principal, route: RouteLabel, reply: HttpReply, used: string | null): void {
  if (reply.status !== 200) return;
  if (route === '/api/v1/txn') {
    try {
      const text = typeof reply.body === 'string' ? reply.body : Buffer.from(reply.body).toString('utf8');
      const id = (JSON.parse(text) as { data?: { id?: unknown } }).data?.id;
      if (typeof id === 'string') security.claimTxn(id, principal);
    } catch {
      // not JSON: nothing to claim
    }
    return;
  }
  const begun = reply.headers?.find(([name]) => name.toLowerCase() === 'mantis-txn')?.[1];
  if (begun !== undefined && begun !== used) security.claimTxn(begun, principal);
  if (used !== null && (route === '/api/v1/txn/:id/commit' || route === '/api/v1/txn/:id/rollback')) security.releaseTxn(used);
}

function isFastRoute(route: RouteLabel, method: string): boolean {
  switch (route) {
    case '/api/v1/kv/:key':
      return method === 'get' || method === 'head' || method === 'put' || method === 'delete';
    case '/api/v1/kv':
      return method === 'get';
    case '/api/v1/kv/batch':
    case '/api/v1/txn':
    case '/api/v1/txn/execute':
    case '/api/v1/txn/:id/commit':
    case '/api/v1/txn/:id/rollback':
      return method === 'post';
    default:
      return false;
  }
}

type FastRequest = {
  readonly path: string;
  readonly query: string;
  readonly contentType: string | undefined;
  readonly deadline: DeadlineHeader;
  /** GET/HEAD: the cache already missed for this request (do not look, or count a miss, twice). */
  readonly cacheTried: boolean;
  /** The caller's KV rules for keys named in a body or listed (undefined: everything). */
  readonly access: KvAccess | undefined;
};

function serveFast(options: ListenerOptions, x: Exchange, r: FastRequest, body: Uint8Array | null): Promise<HttpReply> {
  const { kv, txnRoutes } = options;
  const rawKey = r.path.slice(KV_ITEM_PREFIX.length);
  switch (x.route) {
    case '/api/v1/kv':
      return kv.list(r.query, r.deadline, r.access);
    case '/api/v1/kv/batch':
      return kv.batch(r.contentType, body ?? new Uint8Array(0), r.deadline, r.access);
    case '/api/v1/txn':
      return txnRoutes.begin(r.contentType, body ?? new Uint8Array(0));
    case '/api/v1/txn/execute':
      return txnRoutes.execute(r.contentType, body ?? new Uint8Array(0), r.deadline, r.access);
    case '/api/v1/txn/:id/commit':
      return txnRoutes.commit(r.path);
    case '/api/v1/txn/:id/rollback':
      return txnRoutes.rollback(r.path);
    default:
      if (x.method === 'put') return kv.put(rawKey, r.query, r.contentType, body ?? new Uint8Array(0), r.deadline);
      if (x.method === 'delete') return kv.delete(rawKey, r.deadline);
      return kv.get(rawKey, x.method === 'head', r.deadline, r.cacheTried);
  }
}

function serveTxn(kv: TxnKvHandlers, txn: string, x: Exchange, r: FastRequest, body: Uint8Array | null): Promise<HttpReply> {
  const rawKey = r.path.slice(KV_ITEM_PREFIX.length);
  switch (x.route) {
    case '/api/v1/kv':
      return kv.list(txn, r.query, r.deadline, r.access);
    case '/api/v1/kv/batch':
      return kv.batch();
    default:
      if (x.method === 'put') return kv.put(txn, rawKey, r.query, r.contentType, body ?? new Uint8Array(0));
      if (x.method === 'delete') return kv.delete(txn, rawKey, r.deadline);
      return kv.get(txn, rawKey, x.method === 'head', r.deadline);
  }
}

type HonoRequest = {
  readonly path: string;
  readonly query: string;
  readonly headers: Headers;
  readonly receivedAtMs: number;
  readonly principal: Principal | undefined;
  readonly ip: string | undefined;
};

async function serveHono(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see ListenerOptions.app
  app: Hono<any>,
  x: Exchange,
  { path, query, headers, receivedAtMs, principal, ip }: HonoRequest,
  body: Uint8Array | null,
): Promise<HttpReply> {
  const url = `http://mantisdb${path}${query === '' ? '' : `?${query}`}`;
  const request = new Request(url, { method: x.method.toUpperCase(), headers, body });
  const bindings: Bindings = { rawPath: path, rawQuery: query, receivedAtMs, principal, ip };
  const response = await app.fetch(request, bindings);
  const replyHeaders: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== 'content-type' && name !== 'content-length' && name !== 'transfer-encoding') replyHeaders.push([name, value]);
  });
  const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
  if (response.headers.get(STREAM_HEADER) === '1' && response.body !== null && x.method !== 'head') {
    const headersOut = replyHeaders.filter(([name]) => name !== STREAM_HEADER);
    return { status: response.status, contentType, body: '', headers: headersOut, stream: response.body as unknown as AsyncIterable<Uint8Array> };
  }
  if (x.method === 'head') {
    const length = Number(response.headers.get('content-length') ?? 0);
    return { status: response.status, contentType, body: '', headers: replyHeaders, headLength: length };
  }
  return { status: response.status, contentType, body: new Uint8Array(await response.arrayBuffer()), headers: replyHeaders };
}

type ListenCallback = (socket: uWS.us_listen_socket | false) => void;

/**
 * app.listen(host, port, options, cb): the native build takes listen options with a host, but its
 * typings only declare them without one.
 */
function listenExclusive(app: uWS.TemplatedApp, host: string, port: number, cb: ListenCallback): void {
  const listen = app.listen.bind(app) as unknown as (host: string, port: number, options: number, cb: ListenCallback) => void;
  listen(host, port, (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT, cb);
}

function collectHeaders(req: uWS.HttpRequest): Headers {
  const headers = new Headers();
  req.forEach((name, value) => headers.append(name, value));
  return headers;
}

/** Streams the body into one buffer, refusing it as soon as it exceeds the limit. */
function readBody(x: Exchange, declared: string, limit: number, done: (body: Uint8Array) => void, refuse: (bytes: number) => void): void {
  if (declared !== '') {
    const length = Number(declared);
    if (Number.isSafeInteger(length) && length > limit) return refuse(length);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  let refused = false;
  x.res.onData((chunk, isLast) => {
    if (refused) return;
    total += chunk.byteLength;
    if (total > limit) {
      refused = true;
      return refuse(total);
    }
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) done(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total));
  });
}

function tooLarge(route: RouteLabel, bytes: number, limit: number): HttpReply {
  const code = route === '/api/v1/kv/:key' ? 'VALUE_TOO_LARGE' : 'BODY_TOO_LARGE';
  const what = route === '/api/v1/kv/:key' ? 'value' : 'request body';
  return errorReply(new MantisError(code, `${what} is at least ${bytes} bytes; the limit is ${limit} bytes`));
}
