// Alert rules on the live metric snapshots. Each rule compares one snapshot
// field with a threshold every second; a rule whose condition holds is
// pending, and firing once it has held for `for_s` seconds; when the
// condition stops holding a firing rule is resolved (and inactive again).
// Rules live in <data>/ops/alert-rules.json (replaced whole, durably); with no
// file the defaults apply. Changes to firing and resolved go to the stream
// subscribers, the mantis_alert_firing{name} gauge, the log, and every
// --alert-webhook (POST JSON, retried with backoff, then counted as a dead
// letter).

import { join } from 'node:path';
import client from 'prom-client';
import { MantisError } from '../../shared/errors.js';
import { ensureDir, readIfExists, writeFileDurably } from '../../shared/durable-file.js';
import type { Logger } from '../log.js';
import { TOP_FIELDS, type AlertEvent, type MetricFeed } from './metric-feed.js';
import type { MetricSnapshot } from './metric-sampler.js';

export const ALERT_OPS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type AlertOp = (typeof ALERT_OPS)[number];
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type AlertRule = {
  readonly name: string;
  readonly metric: AlertMetric;
  readonly op: AlertOp;
  readonly value: number;
  readonly for_s: number;
  readonly severity: Severity;
  readonly description?: string;
};

/** The snapshot fields a rule may watch (numbers; a null reading never meets a condition). */
export const ALERT_METRICS = [
  ...TOP_FIELDS.filter((f): f is Exclude<(typeof TOP_FIELDS)[number], 'ts' | 'interval_ms'> => f !== 'ts' && f !== 'interval_ms'),
  'shard_queue_depth_max',
  'shard_fsync_p99_ms_max',
  'shards_not_ready',
] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

export const RULES_MAX = 200;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function defaultRules(connectionsMax: number): AlertRule[] {
  return [
    { name: 'high-error-rate', metric: 'error_ratio', op: '>', value: 0.05, for_s: 60, severity: 'critical', description: 'more than 5 % of requests answered 5xx' },
    { name: 'low-cache-hit-rate', metric: 'cache_hit_rate', op: '<', value: 0.5, for_s: 300, severity: 'warning', description: 'fewer than half of the cache lookups hit' },
    {
      name: 'connection-pool-exhaustion',
      metric: 'connections',
      op: '>',
      value: Math.floor(connectionsMax * 0.9),
      for_s: 60,
      severity: 'warning',
      description: `requests in flight plus streams above 90 % of the ${connectionsMax} the server admits before shedding load`,
    },
    { name: 'disk-space-low', metric: 'disk_free_bytes', op: '<', value: 1024 ** 3, for_s: 60, severity: 'critical', description: 'less than 1 GiB free on the data disk' },
    { name: 'high-latency', metric: 'latency_p99_ms', op: '>', value: 50, for_s: 60, severity: 'warning', description: 'p99 request latency above 50 ms' },
  ];
}

/** A rule as a client sent it, checked field by field. */
export function parseRule(raw: unknown, at: string): AlertRule {
  const bad = (message: string): MantisError => new MantisError('INVALID_PARAMETER', `${at}: ${message}`);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('a rule must be an object');
  const r = raw as Record<string, unknown>;
  const known = ['name', 'metric', 'op', 'value', 'for_s', 'severity', 'description'];
  const extra = Object.keys(r).find((k) => !known.includes(k));
  if (extra !== undefined) throw bad(`unknown field "${extra}" (fields: ${known.join(', ')})`);
  if (typeof r.name !== 'string' || !NAME.test(r.name)) throw bad('name must be 1-64 characters of letters, digits, "_", "." and "-", starting with a letter or digit');
  if (typeof r.metric !== 'string' || !(ALERT_METRICS as readonly string[]).includes(r.metric)) throw bad(`metric must be one of ${ALERT_METRICS.join(', ')}`);
  if (typeof r.op !== 'string' || !(ALERT_OPS as readonly string[]).includes(r.op)) throw bad(`op must be one of ${ALERT_OPS.join(' ')}`);
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) throw bad('value must be a finite number');
  const forS = r.for_s === undefined ? 0 : r.for_s;
  if (typeof forS !== 'number' || !Number.isInteger(forS) || forS < 0 || forS > 86_400) throw bad('for_s must be an integer number of seconds from 0 to 86400');
  const severity = r.severity === undefined ? 'warning' : r.severity;
  if (typeof severity !== 'string' || !(SEVERITIES as readonly string[]).includes(severity)) throw bad(`severity must be one of ${SEVERITIES.join(', ')}`);
  if (r.description !== undefined && (typeof r.description !== 'string' || r.description.length > 500)) throw bad('description must be a string of at most 500 characters');
  return {
    name: r.name,
    metric: r.metric as AlertMetric,
    op: r.op as AlertOp,
    value: r.value,
    for_s: forS,
    severity: severity as Severity,
    ...(r.description === undefined ? {} : { description: r.description as string }),
  };
}

/** {"rules":[…]} → the rules, or a MantisError naming the first problem. */
export function parseRules(body: unknown): AlertRule[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MantisError('INVALID_PARAMETER', 'the body must be {"rules":[…]}');
  const fields = body as Record<string, unknown>;
  const extra = Object.keys(fields).find((k) => k !== 'rules');
  if (extra !== undefined) throw new MantisError('INVALID_PARAMETER', `unknown field "${extra}"; the body is {"rules":[…]}`);
  if (!Array.isArray(fields.rules)) throw new MantisError('INVALID_PARAMETER', '"rules" must be an array');
  if (fields.rules.length > RULES_MAX) throw new MantisError('INVALID_PARAMETER', `at most ${RULES_MAX} rules`);
  const rules = fields.rules.map((r, i) => parseRule(r, `rules[${i}]`));
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.name)) throw new MantisError('INVALID_PARAMETER', `two rules are named "${r.name}"`);
    seen.add(r.name);
  }
  return rules;
}

export function metricValue(s: MetricSnapshot, metric: AlertMetric): number | null {
  switch (metric) {
    case 'shard_queue_depth_max':
      return s.shards.reduce((m, x) => Math.max(m, x.queue_depth), 0);
    case 'shard_fsync_p99_ms_max':
      return s.shards.reduce<number | null>((m, x) => (x.fsync_p99_ms === null ? m : Math.max(m ?? 0, x.fsync_p99_ms)), null);
    case 'shards_not_ready':
      return s.shards.filter((x) => !x.ready).length;
    default:
      return s[metric];
  }
}

export function holds(op: AlertOp, value: number, threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

export type AlertStatus = {
  readonly name: string;
  readonly state: 'inactive' | 'pending' | 'firing';
  readonly value: number | null;
  /** When the rule entered its state (ms since the epoch); null for an inactive rule never seen. */
  readonly since: number | null;
  readonly severity: Severity;
  readonly metric: AlertMetric;
  readonly op: AlertOp;
  readonly threshold: number;
  readonly for_s: number;
};

type State = { state: 'inactive' | 'pending' | 'firing'; since: number | null; value: number | null; heldSince: number | null };

export type AlertsOptions = {
  readonly dataDir: string;
  readonly feed: MetricFeed;
  readonly log: Logger;
  readonly registry: client.Registry;
  readonly webhooks: readonly string[];
  readonly connectionsMax: number;
  /** Webhook retry delays, ms (tests shorten them). */
  readonly retryDelaysMs?: readonly number[];
};

const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
const WEBHOOK_TIMEOUT_MS = 5000;

export class Alerts {
  private rulesValue: AlertRule[];
  private readonly states = new Map<string, State>();
  private readonly file: string;
  private readonly queues: { url: string; items: AlertEvent[]; busy: boolean }[];
  private readonly deliveries = { ok: 0, retried: 0, dead: 0 };
  private closed = false;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly o: AlertsOptions,
    rules: AlertRule[],
  ) {
    this.rulesValue = rules;
    this.file = join(o.dataDir, 'ops', 'alert-rules.json');
    this.queues = o.webhooks.map((url) => ({ url, items: [], busy: false }));
    this.registerMetrics();
    o.feed.onSecond((s) => this.evaluate(s));
  }

  static async open(o: AlertsOptions): Promise<Alerts> {
    const file = join(o.dataDir, 'ops', 'alert-rules.json');
    const text = await readIfExists(file);
    let rules: AlertRule[];
    if (text === null) rules = defaultRules(o.connectionsMax);
    else {
      try {
        rules = parseRules(JSON.parse(text.toString('utf8')));
      } catch (error) {
        throw new Error(`${file}: the saved alert rules are not valid (${error instanceof Error ? error.message : String(error)}); fix or remove the file`);
      }
    }
    return new Alerts(o, rules);
  }

  get rules(): readonly AlertRule[] {
    return this.rulesValue;
  }

  /** Replaces every rule (persisted before it answers); states of rules that keep their name and condition carry over. */
  async replace(rules: AlertRule[]): Promise<void> {
    const write = this.writing.then(async () => {
      await ensureDir(join(this.o.dataDir, 'ops'));
      await writeFileDurably(this.file, JSON.stringify({ rules }, null, 2) + '\n');
    });
    this.writing = write.catch(() => undefined);
    await write;
    const before = new Map(this.rulesValue.map((r) => [r.name, r]));
    this.rulesValue = rules;
    for (const [name, state] of [...this.states]) {
      const old = before.get(name);
      const now = rules.find((r) => r.name === name);
      if (now === undefined || old === undefined || old.metric !== now.metric || old.op !== now.op || old.value !== now.value || old.for_s !== now.for_s || old.severity !== now.severity) {
        // A changed or removed rule ends what it was doing (announced); the new one starts afresh.
        if (old !== undefined && state.state !== 'inactive') this.announce(old, state.state === 'firing' ? 'resolved' : 'inactive', state.value);
        this.states.delete(name);
      }
    }
  }

  status(): AlertStatus[] {
    return this.rulesValue.map((r) => {
      const s = this.states.get(r.name);
      return {
        name: r.name,
        state: s?.state ?? 'inactive',
        value: s?.value ?? null,
        since: s?.since ?? null,
        severity: r.severity,
        metric: r.metric,
        op: r.op,
        threshold: r.value,
        for_s: r.for_s,
      };
    });
  }

  close(): void {
    this.closed = true;
  }

  /** One evaluation of every rule against a one-second snapshot. */
  evaluate(s: MetricSnapshot): void {
    for (const rule of this.rulesValue) {
      let st = this.states.get(rule.name);
      if (st === undefined) this.states.set(rule.name, (st = { state: 'inactive', since: null, value: null, heldSince: null }));
      const value = metricValue(s, rule.metric);
      // Nothing to measure (no cache lookups, no requests): the rule keeps its state and its clock.
      if (value === null) continue;
      st.value = value;
      const met = holds(rule.op, value, rule.value);
      if (met) {
        st.heldSince ??= s.ts;
        const due = s.ts - st.heldSince >= rule.for_s * 1000;
        if (due && st.state !== 'firing') {
          st.state = 'firing';
          st.since = s.ts;
          this.announce(rule, 'firing', value);
        } else if (!due && st.state === 'inactive') {
          st.state = 'pending';
          st.since = s.ts;
          this.announce(rule, 'pending', value);
        }
      } else {
        st.heldSince = null;
        if (st.state !== 'inactive') {
          const wasFiring = st.state === 'firing';
          st.state = 'inactive';
          st.since = s.ts;
          this.announce(rule, wasFiring ? 'resolved' : 'inactive', value);
        }
      }
    }
  }

  private announce(rule: AlertRule, state: AlertEvent['state'], value: number | null): void {
    const event: AlertEvent = { name: rule.name, state, value, severity: rule.severity, ts: Date.now() };
    this.o.feed.publishAlert(event);
    if (state === 'pending' || state === 'inactive') return;
    const fields = { alert: rule.name, state, value, threshold: rule.value, metric: rule.metric, severity: rule.severity };
    if (state === 'firing') this.o.log.warn(fields, `alert ${rule.name} firing`);
    else this.o.log.info(fields, `alert ${rule.name} resolved`);
    for (const q of this.queues) {
      q.items.push(event);
      void this.drain(q);
    }
  }

  /** Delivers a webhook's events in order; each is retried with backoff, then counted as a dead letter. */
  private async drain(q: { url: string; items: AlertEvent[]; busy: boolean }): Promise<void> {
    if (q.busy) return;
    q.busy = true;
    try {
      while (q.items.length > 0 && !this.closed) {
        const event = q.items[0];
        const delays = this.o.retryDelaysMs ?? RETRY_DELAYS_MS;
        let delivered = false;
        for (let attempt = 0; attempt <= delays.length && !this.closed; attempt++) {
          if (attempt > 0) {
            this.deliveries.retried++;
            await new Promise((resolve) => setTimeout(resolve, delays[attempt - 1]).unref());
          }
          if (await this.post(q.url, event)) {
            delivered = true;
            break;
          }
        }
        q.items.shift();
        if (delivered) this.deliveries.ok++;
        else {
          this.deliveries.dead++;
          this.o.log.error({ webhook: redactUrl(q.url), alert: event.name, state: event.state }, 'alert webhook: gave up after retries (dead letter)');
        }
      }
    } finally {
      q.busy = false;
    }
  }

  private async post(url: string, event: AlertEvent): Promise<boolean> {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'mantisdb-alerts' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300;
    } catch {
      return false;
    }
  }

  private registerMetrics(): void {
    const registers = [this.o.registry];
    const status = (): AlertStatus[] => this.status();
    const deliveries = this.deliveries;
    new client.Gauge({
      name: 'mantis_alert_firing',
      help: '1 while the alert rule is firing, 0 otherwise (one series per rule)',
      labelNames: ['name', 'severity'],
      registers,
      collect() {
        this.reset();
        for (const s of status()) this.set({ name: s.name, severity: s.severity }, s.state === 'firing' ? 1 : 0);
      },
    });
    new client.Counter({
      name: 'mantis_alert_webhook_deliveries_total',
      help: 'Alert webhook posts by outcome: delivered, retried (a failed attempt that was tried again)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'delivered' }, deliveries.ok);
        this.inc({ outcome: 'retried' }, deliveries.retried);
      },
    });
    new client.Counter({
      name: 'mantis_alert_webhook_dead_letters_total',
      help: 'Alert events a webhook never accepted after every retry',
      registers,
      collect() {
        this.reset();
        this.inc(deliveries.dead);
      },
    });
  }
}

/** A webhook URL for the log, without credentials or query (they may hold tokens). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
