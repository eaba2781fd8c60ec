// Cache invalidation events for clients, natively on the uWS app (outside the
// request/response cycle, so long-lived streams are not requests in flight):
//
//   WebSocket /ws
//     → {"subscribe":"invalidations","prefix":"user:"}    (prefix optional, default '')
//     ← {"type":"subscribed","stream":"invalidations","prefix":"user:"}
//     ← {"type":"invalidation","key":"user:1","reason":"write","ts":1700000000000}
//     ← {"type":"warning","reason":"low_hit_rate","shard":0,...}
//     → {"unsubscribe":"invalidations","prefix":"user:"}
//     ← {"type":"unsubscribed","stream":"invalidations","prefix":"user:"}
//     A bad message gets {"type":"error","code":...,"message":...}; the socket stays open.
//
//   SSE GET /api/v1/cache/invalidations/stream?prefix=user:
//     event: subscribed / invalidation / warning, data: the same JSON, id: 1, 2, …
//     a ": ping" comment every 15 s.
//
// and the document store's change streams (src/docs/change-hub.ts) on the same
// socket and as SSE:
//
//   WebSocket /ws
//     → {"subscribe":"changes","collection":"c","filter":{…},"resume_after":"<token>"}   (filter, resume_after optional)
//     ← {"type":"subscribed","stream":"changes","collection":"c"}
//     ← {"type":"change","_id":"<token>","operationType":"insert",…}   (MongoDB's change event shape)
//     → {"unsubscribe":"changes","collection":"c"}
//     ← {"type":"unsubscribed","stream":"changes","collection":"c"}
//
//   SSE GET /api/v1/docs/:c/changes?filter=<JSON>&resume_after=<token>  (or Last-Event-ID)
//
// and the live metric snapshots (src/ops/metric-feed.ts), with alert state changes:
//
//   WebSocket /ws
//     → {"subscribe":"metrics","interval_ms":1000}      (interval_ms optional: 100..60000, default 1000)
//     ← {"type":"subscribed","stream":"metrics","interval_ms":1000}
//     ← {"type":"metrics","ts":…,"requests_per_s":…,…}   one per interval
//     ← {"type":"alert","name":"high-p99","state":"firing",…}
//     → {"unsubscribe":"metrics"}
//
//   SSE GET /api/v1/metrics/stream?interval_ms=1000
//     event: metrics / alert, data: the same JSON (needs admin read when auth is on)
//     event: subscribed, then event: change with id: <token> and data: the event JSON.
//     With ?id_type= the path is a document's (by-id GET) and goes to the routes.
//
// Every event reaches a connection at most once (one hub subscription per
// connection covering all its prefixes, filtered here) and is never dropped
// silently: a subscriber more than LIMITS.cache_stream_backlog_bytes_max
// behind is cut (WebSocket close 1008; SSE connection closed) and must
// resubscribe and resync. Events of one turn go out corked, in one write.

import client from 'prom-client';
import type uWS from 'uWebSockets.js';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import type { InvalidationHub, StreamEvent } from '../cache/invalidation-hub.js';
import type { ChangeDelivery } from '../docs/change-hub.js';
import type { ChangeSource } from '../docs/change-source.js';
import type { Logger } from '../log.js';
import { checkInterval, type FeedEvent, type MetricFeed } from '../ops/metric-feed.js';
import { errorReply, statusLine, type HttpReply } from './reply.js';
import { SYSTEM, type Principal } from '../security/principal.js';
import type { Security } from '../security/security.js';
import { kvAccessFor } from '../security/kv-access.js';
import { empty, enumOf, headerParam, int, pathParam, queryParam, raw, routePathOf, str, type RouteSpec } from './api-spec.js';

export const STREAM_NAME = 'invalidations';
export const CHANGES_STREAM = 'changes';
export const METRICS_STREAM = 'metrics';

// ---- route specs: these routes are registered natively below (not in Hono), and the routes listing
// (GET /api/v1/admin/routes) and the OpenAPI description both come from STREAM_ROUTES ------------

const ACCESS_TOKEN = queryParam('access_token', 'A token or API key, for clients that cannot set headers (browsers: EventSource, WebSocket).', str());
const SSE_HEADERS = {
  'Cache-Control': { description: 'no-cache', schema: str() },
  'X-Accel-Buffering': { description: 'no (proxies must not buffer the stream)', schema: str() },
};
const STREAM_NOTE =
  'A stream counts against --conn-limit-per-ip. A subscriber more than 4 MiB behind is cut (the connection is closed; resubscribe and resync); events are never dropped silently. A ": ping" comment comes every 15 s. On shutdown the stream ends and new ones get 503 SHUTTING_DOWN.';

const WS_SPEC: RouteSpec = {
  method: 'GET',
  path: '/ws',
  tag: 'Streams',
  summary: 'The WebSocket: invalidations, document changes and metrics',
  description: [
    'One socket carries any mix of subscriptions, as JSON text frames:',
    '- `{"subscribe":"invalidations","prefix":"user:"}` → `{"type":"subscribed","stream":"invalidations","prefix":"user:"}`, then `invalidation`, `warning` and `reset` messages; up to 64 prefixes. Needs cache read.',
    '- `{"subscribe":"changes","collection":"users","filter":{…},"resume_after":"<token>"}` → `{"type":"subscribed","stream":"changes","collection":"users"}`, then `{"type":"change",…}` (MongoDB\'s change event shape); up to 64 collections. Needs docs:<collection> read.',
    '- `{"subscribe":"metrics","interval_ms":1000}` → `{"type":"subscribed","stream":"metrics","interval_ms":1000}`, then `{"type":"metrics",…}` every interval and `{"type":"alert",…}` on alert changes. Needs admin read.',
    '- `{"unsubscribe":"invalidations"|"changes"|"metrics", …}` → `{"type":"unsubscribed",…}`.',
    'A bad message is answered `{"type":"error","code","message"}` and the socket stays open; a frame over 64 KiB closes it (1009). A socket whose credential stops holding is closed 1008; a subscriber too far behind is closed 1008; idle sockets are pinged and closed after 120 s without traffic; shutdown closes with 1001.',
  ].join('\n\n'),
  params: [
    ACCESS_TOKEN,
    headerParam('Upgrade', 'websocket', enumOf(['websocket'])),
    headerParam('Sec-WebSocket-Key', 'The handshake key (RFC 6455).', str()),
    headerParam('Sec-WebSocket-Version', '13', str()),
  ],
  responses: [empty(101, 'Switching Protocols: the WebSocket is open.')],
  errors: [],
  permission: 'authenticated',
  permissionNote: 'Each subscription needs its own permission (checked per message: an error message, the socket stays open).',
  transport: 'websocket',
};

const INVALIDATIONS_SPEC: RouteSpec = {
  method: 'GET',
  path: '/api/v1/cache/invalidations/stream',
  tag: 'Streams',
  summary: 'Cache invalidation events (server-sent events)',
  description: `Events for keys under ?prefix=: first \`subscribed\`, then \`invalidation\` (data {"type","key","reason","ts"}, reason one of write, delete, ttl, eviction, cascade, explicit), \`warning\` (a shard's low cache hit rate) and \`reset\` (a shard restarted: drop what you hold). Last-Event-ID is ignored: events are not stored. ${STREAM_NOTE}`,
  params: [queryParam('prefix', 'Keys starting with this (default "": every key); at most 1024 bytes.', str(), 'user:'), ACCESS_TOKEN],
  responses: [
    raw(
      200,
      'The event stream.',
      'text/event-stream',
      str(),
      'event: subscribed\ndata: {"type":"subscribed","stream":"invalidations","prefix":"user:"}\n\nid: 1\nevent: invalidation\ndata: {"type":"invalidation","key":"user:1","reason":"write","ts":1765101600000}\n\n',
      SSE_HEADERS,
    ),
  ],
  errors: ['INVALID_PARAMETER'],
  permission: 'cache:read',
  transport: 'sse',
};

const DOC_CHANGES_SPEC: RouteSpec = {
  method: 'GET',
  path: '/api/v1/docs/{c}/changes',
  tag: 'Streams',
  summary: 'A collection\'s change stream (server-sent events)',
  description: `Inserts, updates, replaces and deletes, shaped as MongoDB's change events: first \`subscribed\`, then \`change\` events whose SSE id (and the event's _id) is a resume token. The last 10,000 events of a collection are kept in memory from its first subscription; an older token, or one from before a restart, is 400 CURSOR_INVALID. With ?id_type= this path is the document whose _id is "changes" (GET /api/v1/docs/{c}/{id}). Row-level security applies. ${STREAM_NOTE}`,
  params: [
    pathParam('c', 'The collection.', 'users'),
    queryParam('filter', 'URL-encoded JSON: a query over the change event.', str(), '{"operationType":"insert"}'),
    queryParam('resume_after', 'A resume token: continue after that event.', str()),
    headerParam('Last-Event-ID', 'A resume token (what EventSource sends when it reconnects).', str()),
    ACCESS_TOKEN,
  ],
  responses: [
    raw(
      200,
      'The event stream.',
      'text/event-stream',
      str(),
      'event: subscribed\ndata: {"type":"subscribed","stream":"changes","collection":"users"}\n\nid: 50433411a8-1\nevent: change\ndata: {"type":"change","_id":"50433411a8-1","operationType":"insert","ns":{"coll":"users"},"documentKey":{"_id":1},"fullDocument":{"_id":1,"name":"Ada"}}\n\n',
      SSE_HEADERS,
    ),
  ],
  errors: ['INVALID_PARAMETER', 'INVALID_JSON', 'BAD_QUERY', 'CURSOR_INVALID', 'NOT_FOUND'],
  permission: 'docs:{c}:read',
  transport: 'sse',
};

const METRICS_SPEC: RouteSpec = {
  method: 'GET',
  path: '/api/v1/metrics/stream',
  tag: 'Streams',
  summary: 'Live metric snapshots and alert changes (server-sent events)',
  description: `First \`subscribed\`, then one \`metrics\` event per interval (data {"type":"metrics", …the snapshot: see MetricSnapshot}) and an \`alert\` event whenever an alert rule changes state. Never shed under overload. ${STREAM_NOTE}`,
  params: [queryParam('interval_ms', '100..60000 (default 1000).', int(undefined, { minimum: 100, maximum: 60_000 }), 1000), ACCESS_TOKEN],
  responses: [
    raw(
      200,
      'The event stream.',
      'text/event-stream',
      str(),
      'event: subscribed\ndata: {"type":"subscribed","stream":"metrics","interval_ms":1000}\n\nevent: metrics\ndata: {"type":"metrics","ts":1765101600000,"interval_ms":1000,"requests_per_s":412}\n\n',
      SSE_HEADERS,
    ),
  ],
  errors: ['INVALID_PARAMETER', 'NOT_FOUND'],
  permission: 'admin:read',
  transport: 'sse',
};

/** The routes served here, in the order the routes listing names them. */
export const STREAM_ROUTES: readonly RouteSpec[] = [WS_SPEC, INVALIDATIONS_SPEC, DOC_CHANGES_SPEC, METRICS_SPEC];

export const WS_PATH = routePathOf(WS_SPEC);
export const SSE_PATH = routePathOf(INVALIDATIONS_SPEC);
export const DOC_CHANGES_SSE_PATH = routePathOf(DOC_CHANGES_SPEC);
export const METRICS_SSE_PATH = routePathOf(METRICS_SPEC);
export const SLOW_SUBSCRIBER_CLOSE = { code: 1008, reason: 'subscriber too slow; resubscribe and resync' } as const;
export const SHUTDOWN_CLOSE = { code: 1001, reason: 'server shutting down' } as const;

const SSE_HEARTBEAT_MS = 15_000;
/** Frames above this make uWS close the socket (1009); below it an oversized message gets an error frame. */
const WS_FRAME_BYTES_MAX = 64 * 1024;
/** uWS pings an idle socket and closes it when this passes with no traffic at all. */
const WS_IDLE_TIMEOUT_S = 120;
/** ws.send() result: the message was dropped (uWS's maxBackpressure crossed). */
const WS_SEND_DROPPED = 2;

export type StreamsOptions = {
  readonly hub: Pick<InvalidationHub, 'subscribe'>;
  readonly log: Logger;
  /** Registers mantis_cache_subscribers{transport} and the stream counters when given. */
  readonly registry?: client.Registry;
  /** The document store's change streams; without it "changes" subscriptions are refused. */
  readonly changes?: ChangeSource;
  /** Who may subscribe, and to what (absent: everyone, to everything). */
  readonly security?: Security;
  /** The live metric snapshots; without it "metrics" subscriptions are refused. */
  readonly metrics?: MetricFeed;
};

export type Streams = {
  /** Ends every stream (WebSocket close 1001, SSE end) and refuses new ones with 503. Idempotent. */
  close(): void;
  /** Open WebSockets plus SSE streams. */
  count(): number;
};

type Transport = 'ws' | 'sse';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A prefix as a client gives it: a well-formed string of at most key_bytes_max UTF-8 bytes. */
export function checkPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw new MantisError('INVALID_PARAMETER', 'prefix must be a string');
  if (!prefix.isWellFormed()) throw new MantisError('INVALID_PARAMETER', 'prefix is not valid Unicode (lone surrogate)');
  const bytes = Buffer.byteLength(prefix, 'utf8');
  if (bytes > LIMITS.key_bytes_max) {
    throw new MantisError('INVALID_PARAMETER', `prefix is ${bytes} bytes; no key is longer than ${LIMITS.key_bytes_max}`);
  }
  return prefix;
}

/** The prefix query parameter (the first one; '' when absent), strictly percent-decoded ('+' is a space). */
export function prefixFromQuery(rawQuery: string): string {
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    if ((eq === -1 ? part : part.slice(0, eq)) !== 'prefix') continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent((eq === -1 ? '' : part.slice(eq + 1)).replaceAll('+', ' '));
    } catch {
      throw new MantisError('INVALID_PARAMETER', 'prefix is not valid percent-encoded UTF-8');
    }
    return checkPrefix(decoded);
  }
  return '';
}

type Control = { readonly action: 'subscribe' | 'unsubscribe'; readonly prefix: string };

/** A WebSocket control message, or a MantisError saying what is wrong with it. */
export function parseControl(message: ArrayBuffer, isBinary: boolean): Control {
  if (isBinary) throw new MantisError('INVALID_PARAMETER', 'binary frames are not accepted; send JSON in a text frame');
  if (message.byteLength > LIMITS.cache_stream_message_bytes_max) {
    throw new MantisError('INVALID_PARAMETER', `the message is ${message.byteLength} bytes; the limit is ${LIMITS.cache_stream_message_bytes_max}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(message));
  } catch {
    throw new MantisError('INVALID_JSON', 'the message is not valid JSON (UTF-8)');
  }
  const usage = `expected {"subscribe":"${STREAM_NAME}","prefix":"..."} or {"unsubscribe":"${STREAM_NAME}","prefix":"..."}`;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MantisError('INVALID_PARAMETER', `the message must be a JSON object; ${usage}`);
  const fields = parsed as Record<string, unknown>;
  const subscribe = Object.hasOwn(fields, 'subscribe');
  if (subscribe === Object.hasOwn(fields, 'unsubscribe')) throw new MantisError('INVALID_PARAMETER', `exactly one of "subscribe" and "unsubscribe" is needed; ${usage}`);
  const action = subscribe ? 'subscribe' : 'unsubscribe';
  const extra = Object.keys(fields).find((k) => k !== action && k !== 'prefix');
  if (extra !== undefined) throw new MantisError('INVALID_PARAMETER', `unknown field "${extra}"; ${usage}`);
  const stream = fields[action];
  if (stream !== STREAM_NAME) throw new MantisError('INVALID_PARAMETER', `unknown stream ${JSON.stringify(stream)}; the streams are "${STREAM_NAME}" and "${CHANGES_STREAM}"`);
  return { action, prefix: fields.prefix === undefined ? '' : checkPrefix(fields.prefix) };
}

type ChangesControl = { readonly action: 'subscribe' | 'unsubscribe'; readonly collection: string; readonly filter: unknown; readonly resumeAfter: string | null };

/**
 * A WebSocket message about document change streams ({"subscribe":"changes",…}), or null when the
 * message is about something else (parseControl reads those). Throws a MantisError for a bad one.
 */
export function parseChangesControl(message: ArrayBuffer, isBinary: boolean): ChangesControl | null {
  const usage = `expected {"subscribe":"${CHANGES_STREAM}","collection":"c","filter":{…},"resume_after":"…"} or {"unsubscribe":"${CHANGES_STREAM}","collection":"c"}`;
  const control = streamControl(message, isBinary, CHANGES_STREAM, usage, ['collection', 'filter', 'resume_after'], ['collection']);
  if (control === null) return null;
  const { action, fields } = control;
  if (typeof fields.collection !== 'string') throw new MantisError('INVALID_PARAMETER', `"collection" is required; ${usage}`);
  const resume = fields.resume_after;
  if (resume !== undefined && resume !== null && typeof resume !== 'string') throw new MantisError('INVALID_PARAMETER', '"resume_after" must be a resume token (a change event\'s _id)');
  return { action, collection: fields.collection, filter: fields.filter ?? null, resumeAfter: typeof resume === 'string' ? resume : null };
}

/**
 * A WebSocket message that (un)subscribes `stream`: its action and fields, checked against the
 * fields each action allows; null when the message is about another stream (or not JSON at all:
 * parseControl answers those).
 */
function streamControl(
  message: ArrayBuffer,
  isBinary: boolean,
  stream: string,
  usage: string,
  subscribeFields: readonly string[],
  unsubscribeFields: readonly string[],
): { action: 'subscribe' | 'unsubscribe'; fields: Record<string, unknown> } | null {
  if (isBinary || message.byteLength > LIMITS.cache_stream_message_bytes_max) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(message));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const fields = parsed as Record<string, unknown>;
  const action = fields.subscribe === stream ? 'subscribe' : fields.unsubscribe === stream ? 'unsubscribe' : null;
  if (action === null) return null;
  if (Object.hasOwn(fields, 'subscribe') && Object.hasOwn(fields, 'unsubscribe')) throw new MantisError('INVALID_PARAMETER', `exactly one of "subscribe" and "unsubscribe" is needed; ${usage}`);
  const allowed = [action, ...(action === 'subscribe' ? subscribeFields : unsubscribeFields)];
  const extra = Object.keys(fields).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw new MantisError('INVALID_PARAMETER', `unknown field "${extra}"; ${usage}`);
  return { action, fields };
}

type MetricsControl = { readonly action: 'subscribe' | 'unsubscribe'; readonly intervalMs: number };

/** A WebSocket message about the metric stream ({"subscribe":"metrics",…}), or null when it is about something else. */
export function parseMetricsControl(message: ArrayBuffer, isBinary: boolean): MetricsControl | null {
  const usage = `expected {"subscribe":"${METRICS_STREAM}","interval_ms":1000} or {"unsubscribe":"${METRICS_STREAM}"}`;
  const control = streamControl(message, isBinary, METRICS_STREAM, usage, ['interval_ms'], []);
  if (control === null) return null;
  const raw = control.fields.interval_ms;
  if (raw !== undefined && typeof raw !== 'number') throw new MantisError('INVALID_PARAMETER', `interval_ms must be a number of milliseconds; ${usage}`);
  return { action: control.action, intervalMs: control.action === 'subscribe' ? checkInterval(raw) : 0 };
}

/** The SSE line block of a feed event. */
function sseOf(e: FeedEvent): string {
  return `event: ${e.type}\ndata: ${e.json}\n\n`;
}

/**
 * Subscribes `push` to a collection's changes and answers `ack` first: events the resume token
 * replays (delivered during subscribe) are held until the acknowledgement is out, so a client
 * always reads "subscribed" before the first change. Throws what the subscription refused.
 */
function subscribeChanges(
  source: ChangeSource,
  coll: string,
  filter: unknown,
  resumeAfter: string | null,
  ack: () => void,
  push: (e: ChangeDelivery) => void,
  principal?: Principal,
): () => void {
  let held: ChangeDelivery[] | null = [];
  // The principal's row-level rule for the collection is applied by the source (src/docs/change-source.ts).
  const unsubscribe = source.subscribe(
    coll,
    filter,
    resumeAfter,
    (e) => {
      if (held !== null) held.push(e);
      else push(e);
    },
    principal,
  );
  ack();
  const replay = held;
  held = null;
  for (const e of replay) push(e);
  return unsubscribe;
}

function commonPrefix(prefixes: Iterable<string>): string {
  let common: string | null = null;
  for (const p of prefixes) {
    if (common === null) common = p;
    let i = 0;
    while (i < common.length && i < p.length && common.charCodeAt(i) === p.charCodeAt(i)) i++;
    common = common.slice(0, i);
  }
  return common ?? '';
}

/**
 * One connection's prefixes behind a single hub subscription (on their common
 * prefix), filtered here: an event matching several prefixes is delivered once.
 */
class PrefixSet {
  private readonly prefixes = new Set<string>();
  private unsubscribe: (() => void) | null = null;
  private subscribedTo = '';

  constructor(
    private readonly hub: StreamsOptions['hub'],
    private readonly deliver: (event: StreamEvent) => void,
    /** The subscriber's read rule (permissions and KV policies); null: every key. */
    private readonly visible: ((key: string) => boolean) | null = null,
  ) {}

  get size(): number {
    return this.prefixes.size;
  }

  has(prefix: string): boolean {
    return this.prefixes.has(prefix);
  }

  add(prefix: string): void {
    this.prefixes.add(prefix);
    this.resubscribe();
  }

  delete(prefix: string): void {
    if (this.prefixes.delete(prefix)) this.resubscribe();
  }

  clear(): void {
    this.prefixes.clear();
    this.resubscribe();
  }

  // Synchronous on the main thread: no event can fall between the old subscription and the new one.
  private resubscribe(): void {
    const common = commonPrefix(this.prefixes);
    if (this.unsubscribe !== null && this.prefixes.size > 0 && common === this.subscribedTo) return;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.prefixes.size === 0) return;
    this.subscribedTo = common;
    this.unsubscribe = this.hub.subscribe(common, (event) => {
      if (event.type === 'invalidation' && this.visible !== null && !this.visible(event.key)) return;
      if (event.type !== 'invalidation' || this.prefixes.size === 1 || this.matches(event.key)) this.deliver(event);
    });
  }

  private matches(key: string): boolean {
    for (const p of this.prefixes) if (key.startsWith(p)) return true;
    return false;
  }
}

type Counts = Record<Transport, number>;

type Conn = {
  /** Sends what this turn queued. */
  flush(): void;
};

/** What every connection of one listener shares. */
type Context = {
  readonly hub: StreamsOptions['hub'];
  /** Queues conn.flush() for the end of this turn. */
  markDirty(conn: Conn): void;
  forget(conn: Conn): void;
  json(event: StreamEvent): string;
  cutOff(transport: Transport, backlogBytes: number): void;
  readonly sent: Counts;
  /** Which invalidated keys a subscriber may hear about; null: all. */
  visibleKeys(principal: Principal): ((key: string) => boolean) | null;
  /** Gives back a stream's place under --conn-limit-per-ip. */
  release(ip: string): void;
};

type WsData = { conn: WsConn | null; principal: Principal; slot: string | null };

const BACKLOG_MAX = LIMITS.cache_stream_backlog_bytes_max;

class WsConn implements Conn {
  readonly subs: PrefixSet;
  /** Document change-stream subscriptions by collection (their unsubscribe functions). */
  readonly changeSubs = new Map<string, () => void>();
  /** The metric stream's unsubscribe function. */
  metricsSub: (() => void) | null = null;
  private pending: string[] = [];
  open = true;

  constructor(
    private readonly ws: uWS.WebSocket<WsData>,
    private readonly ctx: Context,
    readonly principal: Principal,
    /** The client IP this stream counts against --conn-limit-per-ip (released when it closes). */
    private readonly slot: string | null = null,
  ) {
    this.subs = new PrefixSet(
      ctx.hub,
      (event) => {
        this.pending.push(ctx.json(event));
        ctx.sent.ws++;
        ctx.markDirty(this);
      },
      ctx.visibleKeys(principal),
    );
  }

  /** A document change event for this socket (sent with the turn's other frames). */
  pushChange(json: string): void {
    if (!this.open) return;
    this.pending.push(json);
    this.ctx.markDirty(this);
  }

  flush(): void {
    if (!this.open || this.pending.length === 0) return;
    const frames = this.pending;
    this.pending = [];
    let over = false;
    this.ws.cork(() => {
      for (const frame of frames) {
        over = this.ws.send(frame, false, false) === WS_SEND_DROPPED || this.ws.getBufferedAmount() > BACKLOG_MAX;
        if (over) break;
      }
    });
    if (over) this.cutOff();
  }

  /** Answers a control message, after anything already queued (order holds). */
  answer(reply: Record<string, unknown>): void {
    this.flush();
    if (!this.open) return;
    this.ws.cork(() => this.ws.send(JSON.stringify(reply), false, false));
    if (this.ws.getBufferedAmount() > BACKLOG_MAX) this.cutOff();
  }

  end(code: number, reason: string): void {
    if (!this.open) return;
    this.flush();
    // end() runs the close handler at once (→ closed()); the close frame follows what is buffered.
    if (this.open) this.ws.end(code, reason);
  }

  closed(): void {
    if (this.open && this.slot !== null) this.ctx.release(this.slot);
    this.open = false;
    this.pending = [];
    this.subs.clear();
    for (const unsubscribe of this.changeSubs.values()) unsubscribe();
    this.changeSubs.clear();
    this.metricsSub?.();
    this.metricsSub = null;
    this.ctx.forget(this);
  }

  private cutOff(): void {
    this.ctx.cutOff('ws', this.ws.getBufferedAmount());
    this.end(SLOW_SUBSCRIBER_CLOSE.code, SLOW_SUBSCRIBER_CLOSE.reason);
  }
}

class SseConn implements Conn {
  readonly subs: PrefixSet;
  private pending: string[] = [];
  /** Set when uWS buffered a write: later text waits in backlog until the socket is writable. */
  private blocked = false;
  private backlog: string[] = [];
  private backlogBytes = 0;
  private nextId = 1;
  /** A document change stream's or the metric stream's unsubscribe function (called when the stream ends). */
  changeSub: (() => void) | null = null;
  open = true;

  constructor(
    private readonly res: uWS.HttpResponse,
    private readonly ctx: Context,
    readonly principal: Principal,
    private readonly slot: string | null = null,
  ) {
    this.subs = new PrefixSet(
      ctx.hub,
      (event) => {
        ctx.sent.sse++;
        this.push(`id: ${this.nextId++}\nevent: ${event.type}\ndata: ${ctx.json(event)}\n\n`);
      },
      ctx.visibleKeys(principal),
    );
  }

  push(text: string): void {
    this.pending.push(text);
    this.ctx.markDirty(this);
  }

  flush(): void {
    if (!this.open || this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    if (!this.blocked) {
      this.write(text);
      return;
    }
    this.backlog.push(text);
    this.backlogBytes += Buffer.byteLength(text);
    if (this.backlogBytes > BACKLOG_MAX) {
      this.ctx.cutOff('sse', this.backlogBytes);
      this.res.close(); // runs onAborted → closed()
    }
  }

  /**
   * uWS calls this only while it holds unsent bytes and, with this handler
   * registered, drains them only when written to: send the backlog, or a
   * comment line when there is none. (Without the handler uWS would drain by
   * itself but then time the response out 10 s later.)
   */
  writable(): boolean {
    if (!this.open) return true;
    const text = this.backlog.length > 0 ? this.backlog.join('') : ':\n';
    this.backlog = [];
    this.backlogBytes = 0;
    this.blocked = false;
    return this.write(text);
  }

  end(): void {
    if (!this.open) return;
    this.flush();
    if (!this.open) return;
    if (this.blocked) {
      this.res.close();
      return;
    }
    this.closed();
    // Not end('', true): after chunked writes this uWS build then sends a malformed chunk.
    this.res.cork(() => this.res.end());
  }

  closed(): void {
    if (this.open && this.slot !== null) this.ctx.release(this.slot);
    this.open = false;
    this.pending = [];
    this.backlog = [];
    this.subs.clear();
    this.changeSub?.();
    this.changeSub = null;
    this.ctx.forget(this);
  }

  private write(text: string): boolean {
    let ok = true;
    this.res.cork(() => {
      ok = this.res.write(text);
    });
    if (!ok) this.blocked = true;
    return ok;
  }
}

export function attachInvalidationStreams(app: uWS.TemplatedApp, options: StreamsOptions): Streams {
  const { hub, log } = options;
  const wsConns = new Set<WsConn>();
  const sseConns = new Set<SseConn>();
  const sent: Counts = { ws: 0, sse: 0 };
  const cutOffs: Counts = { ws: 0, sse: 0 };
  let closed = false;

  // Events arrive one by one from the hub; each connection writes a turn's worth at once.
  const dirty = new Set<Conn>();
  let flushQueued = false;
  const flushAll = (): void => {
    flushQueued = false;
    const conns = [...dirty];
    dirty.clear();
    for (const c of conns) c.flush();
  };
  // The hub hands every matching subscription the same event object: serialize it once.
  let lastEvent: StreamEvent | null = null;
  let lastJson = '';
  const ctx: Context = {
    hub,
    sent,
    markDirty(conn) {
      dirty.add(conn);
      if (flushQueued) return;
      flushQueued = true;
      queueMicrotask(flushAll);
    },
    forget(conn) {
      dirty.delete(conn);
      wsConns.delete(conn as WsConn);
      sseConns.delete(conn as SseConn);
    },
    json(event) {
      if (event !== lastEvent) {
        lastEvent = event;
        lastJson = JSON.stringify(event);
      }
      return lastJson;
    },
    release(ip) {
      options.security?.leave(ip);
    },
    visibleKeys(principal) {
      const access = kvAccessFor(options.security, principal);
      if (access === undefined) return null;
      return (key) => {
        try {
          access.check(key, false);
          return true;
        } catch {
          return false;
        }
      };
    },
    cutOff(transport, backlogBytes) {
      cutOffs[transport]++;
      log.warn({ transport, backlog_bytes: backlogBytes, limit_bytes: BACKLOG_MAX }, 'invalidation subscriber cut off: too far behind');
    },
  };

  const sendReply = (res: uWS.HttpResponse, reply: HttpReply, close: boolean): void => {
    res.cork(() => {
      res.writeStatus(statusLine(reply.status));
      res.writeHeader('Content-Type', reply.contentType);
      for (const [name, value] of reply.headers ?? []) res.writeHeader(name, value);
      res.end(reply.body, close);
    });
  };
  const shuttingDown = (): MantisError => new MantisError('SHUTTING_DOWN', 'server is shutting down');
  const security = options.security;
  /**
   * The subscriber: browsers cannot set headers on a WebSocket or EventSource, so besides the
   * Authorization header and the session cookie, ?access_token= is accepted.
   */
  const authenticate = (res: uWS.HttpResponse, req: uWS.HttpRequest, rawPath: string): Principal | HttpReply | Promise<Principal | HttpReply> => {
    if (security === undefined || !security.active) return SYSTEM;
    const query = req.getQuery() ?? '';
    let token = '';
    try {
      token = new URLSearchParams(query).get('access_token') ?? '';
    } catch {
      token = '';
    }
    const header = req.getHeader('authorization');
    const authorization = header !== '' ? header : token !== '' ? `Bearer ${token}` : '';
    const cookie = req.getHeader('cookie');
    const gated = security.gate({
      route: 'unmatched',
      method: 'get',
      rawPath,
      rawQuery: query,
      authorization,
      cookie,
      csrfHeader: '',
      ip: () => Buffer.from(res.getRemoteAddressAsText()).toString('utf8'),
    });
    const remember = (g: Principal | HttpReply): Principal | HttpReply => {
      if ((g as HttpReply).status === undefined) credentialOf.set(g as Principal, { authorization, cookie });
      return g;
    };
    return gated instanceof Promise ? gated.then(remember) : remember(gated);
  };
  // A stream outlives the request that opened it: when users, keys, roles or policies change, each
  // subscriber's credential is checked again, and a stream whose credential no longer holds (or
  // whose roles changed) is closed; the client reconnects under the rules in force. An expired
  // credential ends its streams at the next heartbeat.
  const credentialOf = new WeakMap<Principal, { authorization: string; cookie: string }>();
  const principalOf = (c: WsConn | SseConn): Principal => c.principal;
  const endStream = (c: WsConn | SseConn): void => {
    if (c instanceof WsConn) c.end(1008, 'credentials or permissions changed; reconnect');
    else c.end();
  };
  const recheck = (): void => {
    if (security === undefined) return;
    for (const c of [...wsConns, ...sseConns]) {
      const principal = principalOf(c);
      const credential = credentialOf.get(principal);
      if (principal.kind === 'system' || credential === undefined) continue;
      const sameRoles = (p: Principal): boolean => p.roles.join('\n') === principal.roles.join('\n');
      try {
        const again = security.authenticator.resolve({ ...credential, method: 'get', csrfHeader: '', ip: '' });
        if (again instanceof Promise) again.then((p) => (sameRoles(p) ? undefined : endStream(c)), () => endStream(c));
        else if (!sameRoles(again)) endStream(c);
      } catch {
        endStream(c);
      }
    }
  };
  const stopWatching = security?.store.onChange(() => setImmediate(recheck));
  const expireStreams = (): void => {
    const nowS = Date.now() / 1000;
    for (const c of [...wsConns, ...sseConns]) {
      const exp = principalOf(c).expiresAt;
      if (exp !== undefined && exp <= nowS) endStream(c);
    }
  };
  /** Runs `go` with the principal (now, or once an uncached credential is verified), or answers the refusal. */
  const withPrincipal = (res: uWS.HttpResponse, gated: Principal | HttpReply | Promise<Principal | HttpReply>, go: (p: Principal) => void): void => {
    const isReply = (g: Principal | HttpReply): g is HttpReply => (g as HttpReply).status !== undefined;
    const refuse = (reply: HttpReply): void => sendReply(res, { ...reply, headers: [...(reply.headers ?? []), ...(security?.headers ?? [])] }, false);
    if (!(gated instanceof Promise)) return isReply(gated) ? refuse(gated) : go(gated);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    gated.then(
      (g) => {
        if (aborted) return;
        res.cork(() => (isReply(g) ? refuse(g) : go(g)));
      },
      () => {
        if (!aborted) refuse(errorReply(new MantisError('INTERNAL', 'authentication failed; see the server log')));
      },
    );
  };
  /**
   * A stream is a connection held open: it counts against --conn-limit-per-ip like a request in
   * flight. Returns the IP it holds (null when there is no limit), or false after answering 429.
   */
  const admitStream = (res: uWS.HttpResponse): string | null | false => {
    if (security === undefined || security.limiter.settings.connectionsPerIp <= 0) return null;
    const ip = Buffer.from(res.getRemoteAddressAsText()).toString('utf8');
    const refused = security.admit(ip);
    if (refused === null) return ip;
    sendReply(res, { ...refused, headers: [...(refused.headers ?? []), ...security.headers] }, false);
    return false;
  };
  const mayStream = (principal: Principal): MantisError | null =>
    principal.can('cache', 'read') ? null : new MantisError('FORBIDDEN', 'permission denied: needs read on cache', { permission: 'cache:read' });

  app.ws<WsData>(WS_PATH, {
    maxPayloadLength: WS_FRAME_BYTES_MAX,
    idleTimeout: WS_IDLE_TIMEOUT_S,
    sendPingsAutomatically: true,
    // Above the bound by a margin: the cut-off after each send comes first, so uWS never drops a message.
    maxBackpressure: BACKLOG_MAX + 2 * WS_FRAME_BYTES_MAX,
    closeOnBackpressureLimit: 0,
    upgrade: (res, req, context) => {
      if (closed) return sendReply(res, errorReply(shuttingDown()), true);
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      withPrincipal(res, authenticate(res, req, WS_PATH), (principal) => {
        const slot = admitStream(res);
        if (slot === false) return;
        res.upgrade<WsData>({ conn: null, principal, slot }, key, protocol, extensions, context);
      });
    },
    open: (ws) => {
      const conn = new WsConn(ws, ctx, ws.getUserData().principal, ws.getUserData().slot);
      ws.getUserData().conn = conn;
      wsConns.add(conn);
    },
    message: (ws, message, isBinary) => {
      const conn = ws.getUserData().conn;
      if (conn === null || !conn.open) return;
      let changes: ChangesControl | null;
      try {
        const metrics = parseMetricsControl(message, isBinary);
        if (metrics !== null) return metricsControl(conn, metrics);
        changes = parseChangesControl(message, isBinary);
        if (changes !== null) return changesControl(conn, changes);
      } catch (error) {
        if (!(error instanceof MantisError)) throw error;
        return conn.answer({ type: 'error', code: error.code, message: error.message });
      }
      let control: Control;
      try {
        control = parseControl(message, isBinary);
        if (control.action === 'subscribe' && !conn.subs.has(control.prefix) && conn.subs.size >= LIMITS.cache_stream_prefixes_max) {
          throw new MantisError('INVALID_PARAMETER', `a socket may hold at most ${LIMITS.cache_stream_prefixes_max} prefixes`);
        }
      } catch (error) {
        if (!(error instanceof MantisError)) throw error;
        return conn.answer({ type: 'error', code: error.code, message: error.message });
      }
      const { action, prefix } = control;
      const refused = action === 'subscribe' ? mayStream(conn.principal) : null;
      if (refused !== null) return conn.answer({ type: 'error', code: refused.code, message: refused.message });
      if (action === 'subscribe') conn.subs.add(prefix);
      else conn.subs.delete(prefix);
      log.debug({ transport: 'ws', action, prefix }, 'invalidation stream');
      conn.answer({ type: action === 'subscribe' ? 'subscribed' : 'unsubscribed', stream: STREAM_NAME, prefix });
    },
    close: (ws) => {
      ws.getUserData().conn?.closed();
    },
  });

  app.get(SSE_PATH, (res, req) => {
    if (closed) return sendReply(res, errorReply(shuttingDown()), true);
    let prefix: string;
    try {
      prefix = prefixFromQuery(req.getQuery() ?? '');
    } catch (error) {
      if (!(error instanceof MantisError)) throw error;
      return sendReply(res, errorReply(error), false);
    }
    withPrincipal(res, authenticate(res, req, SSE_PATH), (principal) => {
      const refused = mayStream(principal);
      if (refused !== null) return sendReply(res, errorReply(refused), false);
      const slot = admitStream(res);
      if (slot === false) return;
      const conn = new SseConn(res, ctx, principal, slot);
      startSse(res, conn, sseConns);
      // The first write sends the headers; a client that has read this is subscribed.
      conn.push(`event: subscribed\ndata: ${JSON.stringify({ type: 'subscribed', stream: STREAM_NAME, prefix })}\n\n`);
      conn.flush();
      conn.subs.add(prefix);
      log.debug({ transport: 'sse', prefix }, 'invalidation stream');
    });
  });

  /** A "metrics" subscribe (replacing the socket's earlier one) or unsubscribe. */
  const metricsControl = (conn: WsConn, c: MetricsControl): void => {
    conn.metricsSub?.();
    conn.metricsSub = null;
    if (c.action === 'unsubscribe') return conn.answer({ type: 'unsubscribed', stream: METRICS_STREAM });
    const feed = options.metrics;
    if (feed === undefined) throw new MantisError('INVALID_PARAMETER', 'this server has no metric stream');
    if (!conn.principal.can('admin', 'read')) throw new MantisError('FORBIDDEN', 'permission denied: needs read on admin', { permission: 'admin:read' });
    conn.answer({ type: 'subscribed', stream: METRICS_STREAM, interval_ms: c.intervalMs });
    conn.metricsSub = feed.subscribe(c.intervalMs, (e) => conn.pushChange(e.json));
  };

  app.get(METRICS_SSE_PATH, (res, req) => {
    if (closed) return sendReply(res, errorReply(shuttingDown()), true);
    const feed = options.metrics;
    let intervalMs: number;
    try {
      if (feed === undefined) throw new MantisError('NOT_FOUND', 'this server has no metric stream');
      intervalMs = checkInterval(new URLSearchParams(req.getQuery() ?? '').get('interval_ms') ?? undefined);
    } catch (error) {
      if (!(error instanceof MantisError)) throw error;
      return sendReply(res, errorReply(error), false);
    }
    withPrincipal(res, authenticate(res, req, METRICS_SSE_PATH), (principal) => {
      const slot = admitStream(res);
      if (slot === false) return;
      const conn = new SseConn(res, ctx, principal, slot);
      startSse(res, conn, sseConns);
      conn.push(`event: subscribed\ndata: ${JSON.stringify({ type: 'subscribed', stream: METRICS_STREAM, interval_ms: intervalMs })}\n\n`);
      conn.flush();
      conn.changeSub = (feed as MetricFeed).subscribe(intervalMs, (e) => conn.push(sseOf(e)));
      log.debug({ transport: 'sse', intervalMs }, 'metric stream');
    });
  });

  /** A "changes" subscribe or unsubscribe on a socket (one subscription per collection: a new one replaces it). */
  const changesControl = (conn: WsConn, c: ChangesControl): void => {
    const answer = { stream: CHANGES_STREAM, collection: c.collection };
    if (c.action === 'unsubscribe') {
      conn.changeSubs.get(c.collection)?.();
      conn.changeSubs.delete(c.collection);
      return conn.answer({ type: 'unsubscribed', ...answer });
    }
    if (options.changes === undefined) throw new MantisError('INVALID_PARAMETER', 'this server has no document change streams');
    if (!conn.changeSubs.has(c.collection) && conn.changeSubs.size >= LIMITS.cache_stream_prefixes_max) {
      throw new MantisError('INVALID_PARAMETER', `a socket may watch at most ${LIMITS.cache_stream_prefixes_max} collections`);
    }
    if (!conn.principal.can(`docs:${c.collection}`, 'read')) throw new MantisError('FORBIDDEN', `permission denied: needs read on docs:${c.collection}`, { permission: `docs:${c.collection}:read` });
    conn.changeSubs.get(c.collection)?.();
    conn.changeSubs.delete(c.collection);
    const unsubscribe = subscribeChanges(options.changes, c.collection, c.filter, c.resumeAfter, () => conn.answer({ type: 'subscribed', ...answer }), (e) => conn.pushChange(e.json), conn.principal);
    conn.changeSubs.set(c.collection, unsubscribe);
    log.debug({ transport: 'ws', collection: c.collection }, 'change stream');
  };

  app.get(DOC_CHANGES_SSE_PATH, (res, req) => {
    const query = req.getQuery() ?? '';
    // With ?id_type= this is GET of the document whose _id is "changes": the routes serve it.
    if (new URLSearchParams(query).has('id_type')) {
      req.setYield(true);
      return;
    }
    if (closed) return sendReply(res, errorReply(shuttingDown()), true);
    const source = options.changes;
    let request: { coll: string; filter: unknown; resumeAfter: string | null };
    try {
      if (source === undefined) throw new MantisError('NOT_FOUND', 'this server has no document change streams');
      request = changesQuery(req.getParameter(0) ?? '', query, req.getHeader('last-event-id'));
    } catch (error) {
      if (!(error instanceof MantisError)) throw error;
      return sendReply(res, errorReply(error), false);
    }
    withPrincipal(res, authenticate(res, req, `/api/v1/docs/${req.getParameter(0) ?? ''}/changes`), (principal) => {
      const refused = principal.can(`docs:${request.coll}`, 'read') ? null : new MantisError('FORBIDDEN', `permission denied: needs read on docs:${request.coll}`, { permission: `docs:${request.coll}:read` });
      if (refused !== null) return sendReply(res, errorReply(refused), false);
      const slot = admitStream(res);
      if (slot === false) return;
      const conn = new SseConn(res, ctx, principal, slot);
      let started = false;
      const start = (): void => {
        started = true;
        startSse(res, conn, sseConns);
        conn.push(`event: subscribed\ndata: ${JSON.stringify({ type: 'subscribed', stream: CHANGES_STREAM, collection: request.coll })}\n\n`);
        conn.flush();
      };
      try {
        conn.changeSub = subscribeChanges(source as ChangeSource, request.coll, request.filter, request.resumeAfter, start, (e) => conn.push(`id: ${e.token}\nevent: change\ndata: ${e.json}\n\n`), principal);
      } catch (error) {
        if (!(error instanceof MantisError) || started) throw error;
        conn.closed();
        return sendReply(res, errorReply(error), false);
      }
      log.debug({ transport: 'sse', collection: request.coll }, 'change stream');
    });
  });

  const heartbeat = setInterval(() => {
    expireStreams();
    for (const c of sseConns) c.push(': ping\n\n');
  }, SSE_HEARTBEAT_MS);
  heartbeat.unref();

  if (options.registry !== undefined) registerStreamMetrics(options.registry, { wsConns, sseConns, sent, cutOffs });

  return {
    count: () => wsConns.size + sseConns.size,
    close: () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      stopWatching?.();
      for (const c of [...wsConns]) c.end(SHUTDOWN_CLOSE.code, SHUTDOWN_CLOSE.reason);
      for (const c of [...sseConns]) c.end();
    },
  };
}

/** The SSE change stream's parameters: collection (from the path), ?filter=<JSON>, ?resume_after= or Last-Event-ID. */
export function changesQuery(rawColl: string, rawQuery: string, lastEventId: string): { coll: string; filter: unknown; resumeAfter: string | null } {
  let coll: string;
  let params: URLSearchParams;
  try {
    coll = decodeURIComponent(rawColl);
    params = new URLSearchParams(rawQuery);
  } catch {
    throw new MantisError('INVALID_PARAMETER', 'the collection name is not valid percent-encoded UTF-8');
  }
  const text = params.get('filter');
  let filter: unknown = null;
  if (text !== null && text !== '') {
    try {
      filter = JSON.parse(text);
    } catch {
      throw new MantisError('INVALID_JSON', '?filter= is not valid JSON');
    }
  }
  const resume = params.get('resume_after') ?? (lastEventId === '' ? null : lastEventId);
  return { coll, filter, resumeAfter: resume === '' ? null : resume };
}

type StreamFigures = {
  readonly wsConns: ReadonlySet<WsConn>;
  readonly sseConns: ReadonlySet<SseConn>;
  readonly sent: Counts;
  readonly cutOffs: Counts;
};

const TRANSPORTS = ['ws', 'sse'] as const;

/** Read at scrape time from the listener's own sets and counts. */
function registerStreamMetrics(registry: client.Registry, figures: StreamFigures): void {
  const registers = [registry];
  const subscribed = (conns: ReadonlySet<{ readonly subs: PrefixSet }>): number => [...conns].filter((c) => c.subs.size > 0).length;
  new client.Gauge({
    name: 'mantis_cache_subscribers',
    help: 'Connections subscribed to cache invalidation events, by transport',
    labelNames: ['transport'],
    registers,
    collect() {
      this.set({ transport: 'ws' }, subscribed(figures.wsConns));
      this.set({ transport: 'sse' }, subscribed(figures.sseConns));
    },
  });
  const counter = (name: string, help: string, counts: Counts): void => {
    new client.Counter({
      name,
      help,
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        for (const t of TRANSPORTS) this.inc({ transport: t }, counts[t]);
      },
    });
  };
  counter('mantis_cache_stream_events_total', 'Invalidation and warning events handed to subscriber connections, by transport', figures.sent);
  counter('mantis_cache_stream_cutoffs_total', `Subscribers disconnected for falling more than ${BACKLOG_MAX} bytes behind, by transport`, figures.cutOffs);
}

/** Registers an SSE connection (abort, back-pressure) and writes its status and headers. */
function startSse(res: uWS.HttpResponse, conn: SseConn, conns: Set<SseConn>): void {
  conns.add(conn);
  res.onAborted(() => conn.closed());
  res.onWritable(() => conn.writable());
  res.cork(() => {
    res.writeStatus(statusLine(200));
    res.writeHeader('Content-Type', 'text/event-stream');
    res.writeHeader('Cache-Control', 'no-cache');
    res.writeHeader('X-Accel-Buffering', 'no');
  });
}
