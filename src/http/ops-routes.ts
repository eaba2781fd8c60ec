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

export type OpsRouteDeps = {
  readonly feed: MetricFeed;
  readonly alerts: Alerts;
  readonly log: Logger;
  /** Records an admin action in the audit log (auth on). */
  readonly audit?: (c: Context<{ Bindings: Bindings }>, action: string, details: Record<string, unknown>) => void;
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
  app.get('/api/v1/metrics/history', async (c) => toResponse(await guard(async () => okReply(deps.feed.history(minutesOf(c.env.rawQuery))))));
  app.get('/api/v1/alerts', async () => toResponse(await guard(async () => okReply(deps.alerts.status()))));
  app.get('/api/v1/alerts/rules', async () => toResponse(await guard(async () => okReply(deps.alerts.rules))));
  app.put('/api/v1/alerts/rules', async (c) =>
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
