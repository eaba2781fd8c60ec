// Admission control: past capacity the listener sheds load with 503
// OVERLOADED (retryable, Retry-After: 1) before doing any work for the
// request, instead of queueing it and letting every request's latency grow
// without bound.
//
// Three signals:
// - requests in flight at the listener: a request arriving while
//   `inFlightMax` are in flight is shed at once (a hard cap: by Little's law
//   the cap bounds the server-side queueing time);
// - main-thread event-loop lag: a timer probe every `probeIntervalMs` measures
//   how late it fires (no busy spin, no monitor thread). `lagSamples` probes
//   at or above `lagMs` within `lagWindowMs` put the listener under pressure;
//   every probe below half of it for `lagReleaseMs` releases it (hysteresis:
//   one GC pause does not shed, and shedding, which lowers the lag at once,
//   goes on long enough to drain the excess). A window rather than probes in a
//   row, because a saturated loop alternates: a probe that fired a second late
//   is re-armed and the next one often fires after a short iteration;
// - requests pending on the busiest shard (sent and not yet answered, queued
//   included), read at the same probe: at or above `shardPendingMax` is
//   pressure, released below half of it.
// Under pressure the excess is shed: requests arriving while at least
// `pressureInFlightFloor` are in flight.
//
// Health (/health/*), Prometheus (/api/metrics/*) and the metric routes
// (/api/v1/metrics*) are never shed. The WebSocket and SSE streams are served
// outside the listener's request handler and never reach this check.
//
// Thresholds: LIMITS.overload_* (shared/limits.ts), overridable per process by
// MANTIS_OVERLOAD_INFLIGHT_MAX, MANTIS_OVERLOAD_LAG_MS,
// MANTIS_OVERLOAD_SHARD_PENDING_MAX and MANTIS_OVERLOAD_FLOOR;
// MANTIS_OVERLOAD=off turns shedding off.

import client from 'prom-client';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { ConfigError } from '../config.js';
import { errorReply, type HttpReply } from './reply.js';

export type OverloadThresholds = {
  /** A request arriving while this many are in flight is shed. */
  readonly inFlightMax: number;
  /** Event-loop lag (ms) that, seen by `lagSamples` probes in a row, is pressure. */
  readonly lagMs: number;
  readonly lagSamples: number;
  readonly lagWindowMs: number;
  readonly lagReleaseMs: number;
  /** Requests pending on the busiest shard that are pressure. */
  readonly shardPendingMax: number;
  /** Under pressure, requests are shed while at least this many are in flight. */
  readonly pressureInFlightFloor: number;
  readonly probeIntervalMs: number;
};

export type OverloadReason = 'in_flight' | 'event_loop_lag' | 'shard_queue';

export const OVERLOAD_REASONS: readonly OverloadReason[] = ['in_flight', 'event_loop_lag', 'shard_queue'];

/** One probe's readings. */
export type OverloadSample = { readonly lagMs: number; readonly shardPending: number };

/** What the guard reads from the shard pool (ShardPool satisfies it). */
export type ShardDepths = { readonly shards: readonly { depth(): { readonly inFlight: number } }[] };

export type ShedCounts = { readonly total: number } & Readonly<Record<OverloadReason, number>>;

export const DEFAULT_OVERLOAD_THRESHOLDS: OverloadThresholds = Object.freeze({
  inFlightMax: LIMITS.overload_inflight_max,
  lagMs: LIMITS.overload_lag_ms,
  lagSamples: LIMITS.overload_lag_samples,
  lagWindowMs: LIMITS.overload_lag_window_ms,
  lagReleaseMs: LIMITS.overload_lag_release_ms,
  shardPendingMax: LIMITS.overload_shard_pending_max,
  pressureInFlightFloor: LIMITS.overload_pressure_inflight_floor,
  probeIntervalMs: LIMITS.overload_probe_interval_ms,
});

function envInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 1_000_000_000) throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** The thresholds with the environment's overrides; null when MANTIS_OVERLOAD=off. */
export function overloadThresholds(env: NodeJS.ProcessEnv = process.env): OverloadThresholds | null {
  const switch_ = env.MANTIS_OVERLOAD;
  if (switch_ === 'off') return null;
  if (switch_ !== undefined && switch_ !== '' && switch_ !== 'on') throw new ConfigError(`MANTIS_OVERLOAD must be on or off, got "${switch_}"`);
  const d = DEFAULT_OVERLOAD_THRESHOLDS;
  return {
    ...d,
    inFlightMax: envInteger(env, 'MANTIS_OVERLOAD_INFLIGHT_MAX', d.inFlightMax),
    lagMs: envInteger(env, 'MANTIS_OVERLOAD_LAG_MS', d.lagMs),
    shardPendingMax: envInteger(env, 'MANTIS_OVERLOAD_SHARD_PENDING_MAX', d.shardPendingMax),
    pressureInFlightFloor: envInteger(env, 'MANTIS_OVERLOAD_FLOOR', d.pressureInFlightFloor),
  };
}

/** Routes that are never shed: health, Prometheus and metrics. */
export function neverShed(path: string): boolean {
  return path.startsWith('/health/') || path.startsWith('/api/metrics/') || path === '/api/v1/metrics' || path.startsWith('/api/v1/metrics/');
}

export type OverloadGuardOptions = {
  /** The shards whose pending requests are a signal; absent: that signal is off. */
  readonly pool?: ShardDepths;
  /** Overrides of the thresholds (tests); by default LIMITS with the environment's overrides. */
  readonly thresholds?: Partial<OverloadThresholds>;
  /** The environment the overrides are read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
};

export class OverloadGuard {
  readonly thresholds: OverloadThresholds;
  /** False when MANTIS_OVERLOAD=off: nothing is shed and no probe runs. */
  readonly enabled: boolean;
  private readonly pool: ShardDepths | undefined;
  private readonly counts: Record<OverloadReason, number> = { in_flight: 0, event_loop_lag: 0, shard_queue: 0 };
  private lagPressure = false;
  private shardPressure = false;
  /** When the latest probes at or above lagMs fired (at most lagSamples, oldest first). */
  private lateAt: number[] = [];
  /** Under lag pressure: since when every probe saw less than lagMs / 2 (null: the last one did not). */
  private calmSince: number | null = null;
  private last: OverloadSample = { lagMs: 0, shardPending: 0 };
  private timer: NodeJS.Timeout | null = null;
  private reply: HttpReply | null = null;

  constructor(options: OverloadGuardOptions = {}) {
    const fromEnv = overloadThresholds(options.env ?? process.env);
    this.enabled = fromEnv !== null;
    this.thresholds = { ...(fromEnv ?? DEFAULT_OVERLOAD_THRESHOLDS), ...options.thresholds };
    this.pool = options.pool;
  }

  /** Starts the probe (an unref'd timer: it never keeps the process alive). Idempotent. */
  start(): void {
    if (!this.enabled || this.timer !== null) return;
    const interval = this.thresholds.probeIntervalMs;
    let due = performance.now() + interval;
    const probe = (): void => {
      const now = performance.now();
      this.sample({ lagMs: Math.max(0, now - due), shardPending: this.shardPending() }, now);
      due = performance.now() + interval;
      this.timer = setTimeout(probe, interval).unref();
    };
    this.timer = setTimeout(probe, interval).unref();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Feeds one probe's readings, taken at `nowMs`: updates the pressure state (with hysteresis). */
  sample(s: OverloadSample, nowMs: number): void {
    this.last = s;
    const t = this.thresholds;
    if (!this.lagPressure) {
      if (s.lagMs >= t.lagMs) {
        this.lateAt.push(nowMs);
        if (this.lateAt.length > t.lagSamples) this.lateAt.shift();
        if (this.lateAt.length >= t.lagSamples && nowMs - this.lateAt[0] <= t.lagWindowMs) {
          this.lagPressure = true;
          this.lateAt = [];
          this.calmSince = null;
        }
      }
    } else if (s.lagMs >= t.lagMs / 2) {
      this.calmSince = null;
    } else {
      this.calmSince ??= nowMs;
      if (nowMs - this.calmSince >= t.lagReleaseMs) this.lagPressure = false;
    }
    if (!this.shardPressure && s.shardPending >= t.shardPendingMax) this.shardPressure = true;
    else if (this.shardPressure && s.shardPending < t.shardPendingMax / 2) this.shardPressure = false;
  }

  /** The pressure the probes see now (lag first), or null. */
  get pressure(): OverloadReason | null {
    if (!this.enabled) return null;
    return this.lagPressure ? 'event_loop_lag' : this.shardPressure ? 'shard_queue' : null;
  }

  /** The last probe's readings. */
  get lastSample(): OverloadSample {
    return this.last;
  }

  /** Why a request arriving while `inFlight` others are in flight is to be shed, or null to serve it. */
  decide(inFlight: number): OverloadReason | null {
    if (!this.enabled) return null;
    if (inFlight >= this.thresholds.inFlightMax) return 'in_flight';
    if (inFlight < this.thresholds.pressureInFlightFloor) return null;
    return this.pressure;
  }

  /**
   * The listener's hook, first thing for every request: the 503 OVERLOADED reply when this request
   * is to be shed (and counts it), or null to serve it. `inFlight`: requests in flight besides this one.
   */
  check(path: string, inFlight: number): HttpReply | null {
    const reason = this.decide(inFlight);
    if (reason === null || neverShed(path)) return null;
    this.counts[reason]++;
    this.reply ??= errorReply(new MantisError('OVERLOADED', 'the server is over capacity; retry shortly'));
    return this.reply;
  }

  /** Requests shed since the start, in total and by reason (monotonic). */
  shedCounts(): ShedCounts {
    const c = this.counts;
    return { total: c.in_flight + c.event_loop_lag + c.shard_queue, ...c };
  }

  get shed(): number {
    return this.counts.in_flight + this.counts.event_loop_lag + this.counts.shard_queue;
  }

  private shardPending(): number {
    let max = 0;
    for (const shard of this.pool?.shards ?? []) max = Math.max(max, shard.depth().inFlight);
    return max;
  }
}

/**
 * Registers `mantis_http_shed_total{reason}` (requests shed with 503 OVERLOADED) in `registry`,
 * read from the guard at scrape time. Call once per registry.
 */
export function registerShedMetric(registry: client.Registry, guard: OverloadGuard): void {
  new client.Counter({
    name: 'mantis_http_shed_total',
    help: 'Requests shed with 503 OVERLOADED (admission control), by the signal that shed them',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const counts = guard.shedCounts();
      for (const reason of OVERLOAD_REASONS) this.inc({ reason }, counts[reason]);
    },
  });
}
