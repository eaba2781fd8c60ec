// Operations routes (the admin's permission when auth is on):
//
//   GET  /api/v1/metrics/history?minutes=60   → data: one-second snapshots, oldest first (1..60 minutes)
//   GET  /api/v1/alerts                       → data: [{name, state, value, since, severity, …}]
//   GET  /api/v1/alerts/rules                 → data: the rules
//   PUT  /api/v1/alerts/rules {"rules":[…]}   → replaces every rule (persisted), data: the rules
//
// The metric stream itself (SSE /api/v1/metrics/stream, "metrics" on /ws) is
// served natively next to the other streams (invalidation-streams.ts); the
// backup and storage routes are registered by backup-routes.ts.

import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import { parseRules, type Alerts } from '../ops/alerts.js';
import { HISTORY_MINUTES_MAX, type MetricFeed } from '../ops/metric-feed.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { jsonBody } from './json-body.js';
import { guarded, okReply } from './reply.js';
import { arr, closed, int, JSON_ERRORS, jsonBody as jsonBodySpec, ok, queryParam, ref, route, type RouteSpec } from './api-spec.js';

export type OpsRouteDeps = {
  readonly feed: MetricFeed;
  readonly alerts: Alerts;
  readonly log: Logger;
  /** Records an admin action in the audit log (auth on). */
  readonly audit?: (c: Context<{ Bindings: Bindings }>, action: string, details: Record<string, unknown>) => void;
};

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const SNAPSHOT_EXAMPLE = {
  ts: 1765101600000,
  interval_ms: 1000,
  requests_per_s: 412,
  errors_per_s: 0,
  error_ratio: 0,
  by_class: {
    read: { requests_per_s: 380, errors_per_s: 0 },
    write: { requests_per_s: 32, errors_per_s: 0 },
    query: { requests_per_s: 0, errors_per_s: 0 },
    auth: { requests_per_s: 0, errors_per_s: 0 },
    admin: { requests_per_s: 0, errors_per_s: 0 },
    other: { requests_per_s: 0, errors_per_s: 0 },
  },
  latency_p50_ms: 0.9,
  latency_p95_ms: 2.8,
  latency_p99_ms: 6.1,
  cache_hit_rate: 0.97,
  memory_rss_bytes: 431000000,
  memory_heap_used_bytes: 61000000,
  disk_free_bytes: 52613349376,
  open_transactions: 0,
  connections: 64,
  compactions_per_s: 0,
  flushes_per_s: 0,
  wal_bytes_per_s: 5120,
  shards: [{ id: 0, ops_per_s: 206, queue_depth: 0, wal_bytes: 1048576, wal_bytes_per_s: 2560, fsync_p99_ms: 0.5, ready: true }],
};

const RULES_EXAMPLE = [{ name: 'high-p99', metric: 'latency_p99_ms', op: '>', value: 50, for_s: 60, severity: 'warning' }];

const HISTORY: RouteSpec = {
  method: 'GET',
  path: '/api/v1/metrics/history',
  tag: 'Operations',
  summary: 'Metric snapshots of the last minutes',
  description: 'One-second snapshots, oldest first. The server keeps one hour.',
  params: [queryParam('minutes', 'How far back, 1..60 (default 60).', int(undefined, { minimum: 1, maximum: HISTORY_MINUTES_MAX }), 5)],
  responses: [ok('The snapshots.', arr(ref('MetricSnapshot')), [SNAPSHOT_EXAMPLE])],
  errors: ['INVALID_PARAMETER'],
  permission: 'admin:read',
};

const ALERTS: RouteSpec = {
  method: 'GET',
  path: '/api/v1/alerts',
  tag: 'Operations',
  summary: 'Every alert rule\'s state',
  description: 'inactive, pending (the condition holds, for less than for_s) or firing; value is the metric\'s last reading and since when the rule entered its state. Rules are evaluated once a second.',
  responses: [
    ok('The states.', arr(ref('AlertStatus')), [
      { name: 'high-latency', state: 'firing', value: 62.4, since: 1765101660000, severity: 'warning', metric: 'latency_p99_ms', op: '>', threshold: 50, for_s: 60 },
    ]),
  ],
  errors: [],
  permission: 'admin:read',
};

const RULES: RouteSpec = {
  method: 'GET',
  path: '/api/v1/alerts/rules',
  tag: 'Operations',
  summary: 'The alert rules in force',
  responses: [
    ok('The rules.', arr(ref('AlertRule')), [
      { name: 'high-error-rate', metric: 'error_ratio', op: '>', value: 0.05, for_s: 60, severity: 'critical', description: 'more than 5 % of requests answered 5xx' },
    ]),
  ],
  errors: [],
  permission: 'admin:read',
};

const PUT_RULES: RouteSpec = {
  method: 'PUT',
  path: '/api/v1/alerts/rules',
  tag: 'Operations',
  summary: 'Replace every alert rule',
  description: 'Replaces every rule (the defaults included; at most 200, distinct names). Saved in <data-dir>/ops/alert-rules.json before the answer. A bad rule is 400 INVALID_PARAMETER naming it (rules[i]).',
  body: jsonBodySpec(closed({ rules: arr(ref('AlertRule'), undefined, { maxItems: 200 }) }, ['rules']), { rules: RULES_EXAMPLE }),
  responses: [ok('The rules now in force.', arr(ref('AlertRule')), RULES_EXAMPLE)],
  errors: [...JSON_ERRORS],
  permission: 'admin:write',
};

export function minutesOf(rawQuery: string): number {
  const raw = new URLSearchParams(rawQuery).get('minutes');
  if (raw === null || raw === '') return HISTORY_MINUTES_MAX;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > HISTORY_MINUTES_MAX) {
    throw new MantisError('INVALID_PARAMETER', `minutes must be an integer from 1 to ${HISTORY_MINUTES_MAX}, got "${raw}"`);
  }
  return Number(raw);
}

export function registerOpsRoutes(app: Hono<{ Bindings: Bindings }>, deps: OpsRouteDeps): void {
  const guard = guarded((error) => deps.log.error({ err: error }, 'unexpected error in an operations route'));
  route(app, HISTORY, async (c) => toResponse(await guard(async () => okReply(deps.feed.history(minutesOf(c.env.rawQuery))))));
  route(app, ALERTS, async () => toResponse(await guard(async () => okReply(deps.alerts.status()))));
  route(app, RULES, async () => toResponse(await guard(async () => okReply(deps.alerts.rules))));
  route(app, PUT_RULES, async (c) =>
    toResponse(
      await guard(async () => {
        const rules = parseRules(jsonBody(c.req.header('content-type'), new Uint8Array(await c.req.arrayBuffer())));
        await deps.alerts.replace(rules);
        deps.audit?.(c, 'alerts.rules.replace', { rules: rules.map((r) => r.name) });
        return okReply(deps.alerts.rules);
      }),
    ),
  );
}
