// The admission control's decisions (src/http/overload.ts), fed numbers: the
// in-flight cap, event-loop lag pressure (sustained: two late probes within the
// window; released only after a calm period), shard-queue pressure (released
// below half), the floor under pressure, the routes that are never shed, the
// 503 OVERLOADED reply, the counts, and the environment's overrides. The last
// cases run the real probe: a stalled event loop (Atomics.wait, a sleep) and a
// deep shard queue put the guard under pressure.

import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../shared/limits.js';
import { DEFAULT_OVERLOAD_THRESHOLDS, neverShed, OverloadGuard, overloadThresholds, type OverloadThresholds } from '../../src/http/overload.js';

const T: OverloadThresholds = {
  inFlightMax: 100,
  lagMs: 250,
  lagSamples: 2,
  lagWindowMs: 2000,
  lagReleaseMs: 1000,
  shardPendingMax: 1000,
  pressureInFlightFloor: 10,
  probeIntervalMs: 100,
};

function guard(thresholds: Partial<OverloadThresholds> = {}): OverloadGuard {
  return new OverloadGuard({ thresholds: { ...T, ...thresholds }, env: {} });
}

const calm = { lagMs: 1, shardPending: 0 };
const late = { lagMs: 300, shardPending: 0 };

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('overload guard: decisions', () => {
  it('sheds a request arriving while inFlightMax are in flight, whatever the probes say', () => {
    const g = guard();
    expect(g.decide(0)).toBeNull();
    expect(g.decide(99)).toBeNull();
    expect(g.decide(100)).toBe('in_flight');
    expect(g.decide(5000)).toBe('in_flight');
  });

  it('is not put under pressure by one late probe (a GC pause), nor by two further apart than the window', () => {
    const g = guard();
    g.sample(late, 1000);
    expect(g.pressure).toBeNull();
    for (let t = 1100; t < 3500; t += 100) g.sample(calm, t);
    g.sample(late, 3500);
    expect(g.pressure, 'the first late probe is 2.5 s old').toBeNull();
    expect(g.decide(50)).toBeNull();
  });

  it('is under lag pressure after two late probes within the window, even with calm probes between them', () => {
    const g = guard();
    g.sample(late, 1000);
    g.sample(calm, 1100);
    g.sample({ lagMs: 250, shardPending: 0 }, 1500);
    expect(g.pressure).toBe('event_loop_lag');
  });

  it('under pressure sheds only the excess: requests arriving while at least the floor are in flight', () => {
    const g = guard();
    g.sample(late, 0);
    g.sample(late, 400);
    expect(g.decide(0)).toBeNull();
    expect(g.decide(9)).toBeNull();
    expect(g.decide(10)).toBe('event_loop_lag');
    expect(g.decide(100)).toBe('in_flight');
  });

  it('releases lag pressure only after every probe for lagReleaseMs saw less than half of lagMs', () => {
    const g = guard();
    g.sample(late, 0);
    g.sample(late, 400);
    g.sample(calm, 500);
    g.sample(calm, 1400);
    expect(g.pressure, 'calm for 900 ms').toBe('event_loop_lag');
    g.sample({ lagMs: 125, shardPending: 0 }, 1500);
    g.sample(calm, 1600);
    g.sample(calm, 2500);
    expect(g.pressure, 'a probe at half of lagMs restarted the calm period').toBe('event_loop_lag');
    g.sample(calm, 2600);
    expect(g.pressure).toBeNull();
    expect(g.decide(50)).toBeNull();
  });

  it('is under shard-queue pressure at shardPendingMax on the busiest shard, released below half of it', () => {
    const g = guard();
    g.sample({ lagMs: 0, shardPending: 999 }, 0);
    expect(g.pressure).toBeNull();
    g.sample({ lagMs: 0, shardPending: 1000 }, 100);
    expect(g.pressure).toBe('shard_queue');
    expect(g.decide(10)).toBe('shard_queue');
    g.sample({ lagMs: 0, shardPending: 500 }, 200);
    expect(g.pressure, 'at half: still under pressure').toBe('shard_queue');
    g.sample({ lagMs: 0, shardPending: 499 }, 300);
    expect(g.pressure).toBeNull();
  });

  it('answers a shed request 503 OVERLOADED (retryable, Retry-After: 1) and counts it by reason', () => {
    const g = guard();
    expect(g.check('/api/v1/kv/a', 5)).toBeNull();
    const reply = g.check('/api/v1/kv/a', 100);
    expect(reply?.status).toBe(503);
    expect(JSON.parse(String(reply?.body))).toEqual({
      success: false,
      error: { code: 'OVERLOADED', message: expect.any(String), retryable: true },
    });
    expect(reply?.headers).toContainEqual(['Retry-After', '1']);
    g.sample(late, 0);
    g.sample(late, 100);
    expect(g.check('/api/v1/sql', 20)?.status).toBe(503);
    expect(g.check('/api/v1/docs/c/find', 20)?.status).toBe(503);
    expect(g.shedCounts()).toEqual({ total: 3, in_flight: 1, event_loop_lag: 2, shard_queue: 0 });
    expect(g.shed).toBe(3);
  });

  it('never sheds health, Prometheus or metric routes', () => {
    const g = guard();
    for (const path of ['/health/live', '/health/ready', '/api/metrics/prometheus', '/api/v1/metrics/history', '/api/v1/metrics/stream', '/api/v1/metrics']) {
      expect(neverShed(path), path).toBe(true);
      expect(g.check(path, 1_000_000), path).toBeNull();
    }
    for (const path of ['/api/v1/kv/health', '/api/v1/kv/batch', '/api/v1/metricsx', '/healthz']) expect(neverShed(path), path).toBe(false);
    expect(g.shed).toBe(0);
  });
});

describe('overload guard: thresholds and the environment', () => {
  it('defaults to the LIMITS constants', () => {
    expect(overloadThresholds({})).toEqual(DEFAULT_OVERLOAD_THRESHOLDS);
    expect(DEFAULT_OVERLOAD_THRESHOLDS).toMatchObject({
      inFlightMax: LIMITS.overload_inflight_max,
      lagMs: LIMITS.overload_lag_ms,
      shardPendingMax: LIMITS.overload_shard_pending_max,
      pressureInFlightFloor: LIMITS.overload_pressure_inflight_floor,
    });
  });

  it('takes MANTIS_OVERLOAD_* overrides and refuses bad ones', () => {
    const env = { MANTIS_OVERLOAD_INFLIGHT_MAX: '8', MANTIS_OVERLOAD_LAG_MS: '40', MANTIS_OVERLOAD_SHARD_PENDING_MAX: '300', MANTIS_OVERLOAD_FLOOR: '2' };
    expect(overloadThresholds(env)).toMatchObject({ inFlightMax: 8, lagMs: 40, shardPendingMax: 300, pressureInFlightFloor: 2 });
    expect(new OverloadGuard({ env }).decide(8)).toBe('in_flight');
    for (const bad of ['0', '-1', '1.5', 'many', '1e3']) expect(() => overloadThresholds({ MANTIS_OVERLOAD_LAG_MS: bad }), bad).toThrow(/MANTIS_OVERLOAD_LAG_MS/);
    expect(() => overloadThresholds({ MANTIS_OVERLOAD: 'maybe' })).toThrow(/MANTIS_OVERLOAD/);
  });

  it('sheds nothing with MANTIS_OVERLOAD=off', () => {
    const g = new OverloadGuard({ env: { MANTIS_OVERLOAD: 'off' } });
    expect(g.enabled).toBe(false);
    g.sample({ lagMs: 10_000, shardPending: 10_000_000 }, 0);
    g.sample({ lagMs: 10_000, shardPending: 10_000_000 }, 100);
    expect(g.check('/api/v1/kv/a', 10_000_000)).toBeNull();
    expect(g.shed).toBe(0);
  });
});

describe('overload guard: the probe', () => {
  it('sees a stalled event loop as lag pressure', async () => {
    const g = new OverloadGuard({ thresholds: { ...T, lagMs: 40, probeIntervalMs: 10, lagReleaseMs: 60_000 }, env: {} });
    g.start();
    try {
      for (let i = 0; i < 3; i++) {
        await new Promise((done) => setTimeout(done, 15));
        sleep(80);
      }
      await new Promise((done) => setTimeout(done, 30));
      expect(g.pressure).toBe('event_loop_lag');
      expect(g.lastSample.lagMs).toBeGreaterThanOrEqual(0);
    } finally {
      g.stop();
    }
  });

  it('reads the busiest shard\'s pending requests', async () => {
    const depths = [10, 1500];
    const pool = { shards: depths.map((inFlight) => ({ depth: () => ({ inFlight }) })) };
    const g = new OverloadGuard({ pool, thresholds: { ...T, probeIntervalMs: 10 }, env: {} });
    g.start();
    try {
      await new Promise((done) => setTimeout(done, 60));
      expect(g.lastSample.shardPending).toBe(1500);
      expect(g.pressure).toBe('shard_queue');
    } finally {
      g.stop();
    }
  });
});
