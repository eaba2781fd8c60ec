// Token buckets per identity (API key, JWT subject, user, or IP when
// anonymous) and per route class, on the router thread (single-threaded: no
// locks). A bucket holds up to `burst` tokens and refills at `rps` per
// second; a request takes one or is refused with 429 RATE_LIMITED, Retry-After
// and the IETF RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-
// ratelimit-headers: `RateLimit-Policy: "write";q=200;w=2`,
// `RateLimit: "write";r=0;t=1`). Idle buckets are swept once a minute.
// Also counts concurrent requests and streams per client IP.

import { MantisError } from '../../shared/errors.js';
import type { HttpReply } from '../http/reply.js';
import { errorReply } from '../http/reply.js';
import type { RouteLabel } from '../http/routes.js';

export const ROUTE_CLASSES = ['read', 'write', 'query', 'auth', 'admin'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

export type Limit = { readonly rps: number; readonly burst: number };
export type LimitSettings = {
  /** Per identity, for every class without its own limit; rps 0 = no limit. */
  readonly rps: number;
  readonly burst: number;
  readonly classes: Partial<Record<RouteClass, Limit>>;
  /** Concurrent requests plus open streams per client IP; 0 = no limit. */
  readonly connectionsPerIp: number;
};

type Bucket = { tokens: number; at: number };

const SWEEP_MS = 60_000;

export function routeClassOf(route: RouteLabel, method: string, rawPath: string): RouteClass {
  if (rawPath.startsWith('/api/v1/auth/')) return 'auth';
  if (rawPath.startsWith('/api/v1/admin/') || route === '/api/metrics/prometheus') return 'admin';
  if (route === '/api/v1/sql' || route === '/api/v1/cql' || route.endsWith('/:action')) return 'query';
  return method === 'get' || method === 'head' ? 'read' : 'write';
}

export class RateLimiter {
  private buckets = new Map<string, Bucket[]>();
  private readonly inFlight = new Map<string, number>();
  private settingsValue: LimitSettings;
  private limits: (Limit | null)[] = [];
  private readonly sweeper: NodeJS.Timeout;

  constructor(settings: LimitSettings) {
    this.settingsValue = settings;
    this.compile();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  get settings(): LimitSettings {
    return this.settingsValue;
  }

  /** Runtime change (PUT /api/v1/admin/rate-limits): buckets start full under the new limits. */
  update(settings: LimitSettings): void {
    this.settingsValue = settings;
    this.compile();
    this.buckets = new Map();
  }

  get enabled(): boolean {
    return this.limits.some((l) => l !== null);
  }

  private compile(): void {
    const s = this.settingsValue;
    this.limits = ROUTE_CLASSES.map((c) => {
      const limit = s.classes[c] ?? { rps: s.rps, burst: s.burst };
      return limit.rps > 0 ? { rps: limit.rps, burst: Math.max(1, limit.burst) } : null;
    });
  }

  /** Takes a token; null when allowed, else the 429 reply. */
  take(identity: string, cls: RouteClass, now = performance.now()): HttpReply | null {
    const index = ROUTE_CLASSES.indexOf(cls);
    const limit = this.limits[index];
    if (limit === null) return null;
    let buckets = this.buckets.get(identity);
    if (buckets === undefined) {
      buckets = [];
      this.buckets.set(identity, buckets);
    }
    let bucket = buckets[index];
    if (bucket === undefined) {
      bucket = { tokens: limit.burst, at: now };
      buckets[index] = bucket;
    } else {
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.rps);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return null;
    }
    const waitS = Math.max(1, Math.ceil((1 - bucket.tokens) / limit.rps));
    return limitedReply(cls, limit, waitS);
  }

  /** Counts a request or stream against its IP; false when the IP is at its limit. */
  enter(ip: string): boolean {
    const max = this.settingsValue.connectionsPerIp;
    if (max <= 0) return true;
    const n = this.inFlight.get(ip) ?? 0;
    if (n >= max) return false;
    this.inFlight.set(ip, n + 1);
    return true;
  }

  leave(ip: string): void {
    if (this.settingsValue.connectionsPerIp <= 0) return;
    const n = (this.inFlight.get(ip) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(ip);
    else this.inFlight.set(ip, n);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = performance.now();
    for (const [identity, buckets] of this.buckets) {
      const idle = buckets.every((b, i) => b === undefined || (this.limits[i] !== null && b.tokens + ((now - b.at) / 1000) * (this.limits[i] as Limit).rps >= (this.limits[i] as Limit).burst));
      if (idle) this.buckets.delete(identity);
    }
  }
}

export function limitedReply(cls: RouteClass, limit: Limit, waitS: number): HttpReply {
  const base = errorReply(new MantisError('RATE_LIMITED', `rate limit of ${limit.rps} requests/s (burst ${limit.burst}) for ${cls} requests exceeded; retry in ${waitS} s`));
  const windowS = Math.max(1, Math.ceil(limit.burst / limit.rps));
  return {
    ...base,
    headers: [
      ['Retry-After', String(waitS)],
      ['RateLimit-Policy', `"${cls}";q=${limit.burst};w=${windowS}`],
      ['RateLimit', `"${cls}";r=0;t=${waitS}`],
    ],
  };
}

export function tooManyConnections(ip: string, max: number): HttpReply {
  const base = errorReply(new MantisError('RATE_LIMITED', `too many concurrent requests and streams from ${ip} (limit ${max})`));
  return { ...base, headers: [['Retry-After', '1']] };
}

/** Checks a runtime limits body; returns the settings or throws INVALID_PARAMETER. */
export function parseLimitSettings(body: unknown, current: LimitSettings): LimitSettings {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MantisError('INVALID_PARAMETER', 'the body must be a JSON object {rps, burst, classes, connections_per_ip}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['rps', 'burst', 'classes', 'connections_per_ip'].includes(k)) throw new MantisError('INVALID_PARAMETER', `unknown field "${k}"`);
  const count = (v: unknown, name: string, fallback: number): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 10_000_000) throw new MantisError('INVALID_PARAMETER', `${name} must be an integer in 0..10000000`);
    return v;
  };
  const classes: Partial<Record<RouteClass, Limit>> = { ...current.classes };
  if (b.classes !== undefined) {
    if (typeof b.classes !== 'object' || b.classes === null || Array.isArray(b.classes)) throw new MantisError('INVALID_PARAMETER', 'classes must be an object of {read|write|query|auth|admin: {rps, burst}}');
    for (const [name, value] of Object.entries(b.classes as Record<string, unknown>)) {
      if (!(ROUTE_CLASSES as readonly string[]).includes(name)) throw new MantisError('INVALID_PARAMETER', `unknown route class "${name}"; use ${ROUTE_CLASSES.join(', ')}`);
      if (value === null) {
        delete classes[name as RouteClass];
        continue;
      }
      if (typeof value !== 'object' || Array.isArray(value)) throw new MantisError('INVALID_PARAMETER', `classes.${name} must be {rps, burst} or null`);
      const v = value as Record<string, unknown>;
      const rps = count(v.rps, `classes.${name}.rps`, 0);
      classes[name as RouteClass] = { rps, burst: count(v.burst, `classes.${name}.burst`, rps) };
    }
  }
  const rps = count(b.rps, 'rps', current.rps);
  return { rps, burst: count(b.burst, 'burst', b.rps === undefined ? current.burst : Math.max(current.burst, rps)), classes, connectionsPerIp: count(b.connections_per_ip, 'connections_per_ip', current.connectionsPerIp) };
}
