// KV benchmark: MantisDB against a bare uWebSockets.js server on the same
// machine in the same run, so the figures are ratios rather than absolutes
// (see /work/shared/ANCHORS.md for why: the box is small and noisy).
//
// The cost of security is measured the same way: a second MantisDB, started
// with --auth on and rate limits that are on but never refuse, serves GET hits
// and PUTs with an API key and with a JWT in Authorization: Bearer. Each such
// scenario is compared with a run of the auth-off MantisDB made just before
// it, so drift in the machine's speed hits both sides.
//
//   npm run bench:kv                      # 10 s per scenario, 64 connections
//   BENCH_DURATION_S=3 node dist/bench/kv-bench.js
//
// Environment: BENCH_DURATION_S (10), BENCH_CONNECTIONS (64), BENCH_WARMUP_S (2,
// 0 = none), BENCH_TOOL (wrk | autocannon; default wrk when installed),
// BENCH_WAIT_IDLE_S (30: how long to wait for a busy machine to settle first).
// Results go to stdout and to bench/results/kv-<timestamp>.json. The exit code
// is 1 when something went wrong (failed responses, a server that crashed or
// would not stop); targets that are missed do not change it.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chooseTool, runAutocannon, runWrk, stopActiveLoad, wrkVersion, type LoadResult, type LoadSettings, type Tool } from './lib/load.js';
import {
  KEY_COUNT,
  authenticate,
  bearer,
  preload,
  rateLimitsOf,
  smokeCheckAuthRequired,
  smokeCheckBare,
  smokeCheckBatch,
  smokeCheckMantis,
  type Credentials,
  type PreloadOutcome,
} from './lib/preload.js';
import { BUSY_SHARE_MAX, NeighbourMeter, RssSampler, machineBusyShare, waitForQuietMachine, procStatusKiB, startServer, stopServer, type ServerProcess, type StopOutcome } from './lib/proc.js';
import {
  LIMITER_SCENARIO_ID,
  checkTargets,
  describeErrors,
  errorCount,
  fmtMiB,
  resultsPath,
  resultsTable,
  targetsTable,
  type ScenarioResult,
} from './lib/report.js';
import { authScenarioId, luaScript, opsPerRequestOf, type AuthKind, type ExtraHeaders, type Kind, type Scenario, type Target } from './lib/scenarios.js';
import { envInt } from './lib/env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FSYNC_BATCH_MS = 2;
// Rate limits that are on (every request takes a token from its identity's
// bucket) but never refuse: the largest the server accepts (--rate-limit-rps
// and --rate-limit-burst are capped at 10 000 000), far above what one box
// can send.
const AUTH_RATE_LIMIT = 10_000_000;
// The admin's JWT must outlive the run (the server's default is an hour).
const JWT_TTL_S = 86_400;
const API_KEY_ROLES = ['readwrite'] as const;

const progress = (message: string): void => {
  process.stderr.write(`[kv-bench] ${message}\n`);
};

type Plan = {
  readonly scenario: Scenario;
  readonly label: string;
  readonly baselineId: string | null;
  /** The auth server's rate limits for this scenario, set at run time: off, or on (never refusing). */
  readonly limiter?: 'off' | 'on';
};

function scenario(target: Target, kind: Kind): Scenario {
  return { id: `${target}-${kind}`, target, kind, opsPerRequest: opsPerRequestOf(kind) };
}

const AUTH_LABEL: Record<AuthKind, string> = { key: 'API key', jwt: 'JWT' };

/**
 * One auth scenario, preceded by its baseline: an auth-off MantisDB with the
 * same traffic, measured right before it so both see the same machine. The
 * baseline server is the auth server's twin: started with it, preloaded the
 * same way and given the same scenarios in the same order, so both have the
 * same storage history (a PUT's speed depends on the memtables and
 * compactions it meets, and the main MantisDB has absorbed other runs).
 */
function authPair(kind: 'get' | 'put', auth: AuthKind): Plan[] {
  const what = kind.toUpperCase();
  const baselineId = `mantis-${kind}-before-${auth}`;
  return [
    { scenario: { id: baselineId, target: 'mantis-twin', kind, opsPerRequest: 1 }, label: `MantisDB ${what}, auth off (twin, before ${AUTH_LABEL[auth]})`, baselineId: null },
    { scenario: { id: authScenarioId(auth, kind), target: 'mantis-auth', kind, opsPerRequest: 1, auth }, label: `MantisDB ${what}, auth ${AUTH_LABEL[auth]} + rate limit`, baselineId },
  ];
}

// Bare and MantisDB interleaved, so drift in the machine's speed hits both;
// then auth off and auth on alternating, for the same reason.
const PLAN: readonly Plan[] = [
  { scenario: scenario('bare', 'get'), label: 'bare uWS GET', baselineId: null },
  { scenario: scenario('mantis', 'get'), label: 'MantisDB GET', baselineId: 'bare-get' },
  { scenario: scenario('bare', 'put'), label: 'bare uWS PUT', baselineId: null },
  { scenario: scenario('mantis', 'put'), label: 'MantisDB PUT', baselineId: 'bare-put' },
  { scenario: scenario('mantis', 'mix'), label: 'MantisDB 90/10 GET/PUT', baselineId: 'bare-get' },
  { scenario: scenario('mantis', 'batch'), label: 'MantisDB batch ×100 (90 get/10 put)', baselineId: null },
  // The rate limiter alone: the auth server with an API key, its limits off, then on (never refusing).
  { scenario: { id: 'mantis-auth-key-get-no-limit', target: 'mantis-auth', kind: 'get', opsPerRequest: 1, auth: 'key' }, label: 'MantisDB GET, auth API key, rate limit off', baselineId: null, limiter: 'off' },
  { scenario: { id: LIMITER_SCENARIO_ID, target: 'mantis-auth', kind: 'get', opsPerRequest: 1, auth: 'key' }, label: 'MantisDB GET, auth API key, rate limit on', baselineId: 'mantis-auth-key-get-no-limit', limiter: 'on' },
  ...authPair('get', 'key'),
  ...authPair('get', 'jwt'),
  ...authPair('put', 'key'),
  ...authPair('put', 'jwt'),
];

type Servers = { bare: ServerProcess | null; mantis: ServerProcess | null; mantisAuth: ServerProcess | null; twin: ServerProcess | null };
type Stops = { bare: StopOutcome | null; mantis: StopOutcome | null; mantisAuth: StopOutcome | null; twin: StopOutcome | null };

/**
 * Runs `start` with `vars` set in this process's environment, then restores it. startServer spawns
 * synchronously (the child's environment is copied then), so only the server started here sees them.
 */
function withEnv<T>(vars: Readonly<Record<string, string>>, start: () => T): T {
  const saved = new Map(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return start();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** PUT /api/v1/admin/rate-limits as the admin (0 = off). */
async function setRateLimits(url: string, rps: number, adminToken: string): Promise<void> {
  const response = await fetch(`${url}/api/v1/admin/rate-limits`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ rps, burst: rps }) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`setting rate limits to ${rps} failed: ${response.status} ${text.slice(0, 300)}`);
}

function mantisArgs(dataDir: string): string[] {
  return ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--fsync', 'batch', '--fsync-batch-ms', String(FSYNC_BATCH_MS), '--log-level', 'warn'];
}

const AUTH_FLAGS = ['--auth', 'on', '--rate-limit-rps', String(AUTH_RATE_LIMIT), '--rate-limit-burst', String(AUTH_RATE_LIMIT), '--jwt-ttl-s', String(JWT_TTL_S)];
const MANTIS_READY = /^MantisDB listening on (http:\/\/\S+)/;

async function main(): Promise<number> {
  const settings: LoadSettings = {
    durationS: envInt('BENCH_DURATION_S', 10, 1),
    connections: envInt('BENCH_CONNECTIONS', 64, 1),
    threads: 1,
  };
  const warmupS = envInt('BENCH_WARMUP_S', 2, 0);
  const waitIdleS = envInt('BENCH_WAIT_IDLE_S', 30, 0);
  const tool: Tool = chooseTool();
  const startedAt = new Date();
  const problems: string[] = [];
  const problem = (message: string): void => {
    problems.push(message);
    progress(`PROBLEM: ${message}`);
  };

  const tmp = mkdtempSync(join(tmpdir(), 'mantis-kv-bench-'));
  const dataDir = join(tmp, 'data');
  const authDataDir = join(tmp, 'data-auth');
  const luaDir = join(tmp, 'lua');
  mkdirSync(luaDir, { mode: 0o700 });
  // The bootstrap admin's password for the auth server: random, never printed.
  const adminPassword = randomBytes(24).toString('base64url');
  const servers: Servers = { bare: null, mantis: null, mantisAuth: null, twin: null };
  const stops: Stops = { bare: null, mantis: null, mantisAuth: null, twin: null };
  // One cleanup, however many paths ask for it; every caller waits for the same one.
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      stopActiveLoad();
      const [bareStop, mantisStop, authStop, twinStop] = await Promise.all([
        servers.bare ? stopServer(servers.bare) : Promise.resolve(null),
        servers.mantis ? stopServer(servers.mantis) : Promise.resolve(null),
        servers.mantisAuth ? stopServer(servers.mantisAuth) : Promise.resolve(null),
        servers.twin ? stopServer(servers.twin) : Promise.resolve(null),
      ]);
      stops.bare = bareStop;
      stops.mantis = mantisStop;
      stops.mantisAuth = authStop;
      stops.twin = twinStop;
      rmSync(tmp, { recursive: true, force: true });
    })();
    return cleaning;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    progress(`${signal}: stopping servers and removing ${tmp}`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    progress(`tool ${tool}${tool === 'wrk' ? ` (${wrkVersion() ?? '?'})` : ''}; ${settings.durationS} s per scenario (+${warmupS} s warm-up), ${settings.connections} connections; temp dir ${tmp}`);
    const busyBefore = await waitForQuietMachine(waitIdleS, progress, 'BENCH_WAIT_IDLE_S');
    if (busyBefore !== null && busyBefore > BUSY_SHARE_MAX) {
      problem(`the machine was not idle before the run: ${(busyBefore * 100).toFixed(0)}% of all CPU time busy (other processes compete with the servers and wrk)`);
    }
    // Each server is recorded as soon as it is up, so cleanup stops it even if another fails to start.
    const [bare, mantis, mantisAuth, twin] = await Promise.all([
      startServer('bare-uws', join(ROOT, 'dist/bench/bare-uws.js'), ['--port', '0', '--host', '127.0.0.1'], /^bare-uws listening on (http:\/\/\S+)/).then(
        (s) => (servers.bare = s),
      ),
      startServer('MantisDB', join(ROOT, 'dist/src/main.js'), mantisArgs(dataDir), MANTIS_READY).then((s) => (servers.mantis = s)),
      withEnv({ MANTIS_ADMIN_PASSWORD: adminPassword }, () => startServer('MantisDB (auth on)', join(ROOT, 'dist/src/main.js'), [...mantisArgs(authDataDir), ...AUTH_FLAGS], MANTIS_READY)).then(
        (s) => (servers.mantisAuth = s),
      ),
      startServer('MantisDB (auth off, twin)', join(ROOT, 'dist/src/main.js'), mantisArgs(join(tmp, 'data-twin')), MANTIS_READY).then((s) => (servers.twin = s)),
    ]);
    const mantisRss = new RssSampler(mantis.pid);
    const authRss = new RssSampler(mantisAuth.pid);
    const bareRss = new RssSampler(bare.pid);
    progress(`bare uWS at ${bare.url} (pid ${bare.pid}); MantisDB at ${mantis.url} (pid ${mantis.pid}), RSS ${fmtMiB(mantisRss.sample())}; MantisDB with auth on at ${mantisAuth.url} (pid ${mantisAuth.pid})`);

    progress(`preloading ${KEY_COUNT} keys (100-byte values, 1000 ops per batch, 4 in flight)`);
    const loaded = await preload(mantis.url, 1000, 4);
    const preloadMs = loaded.ms;
    if (loaded.batchError !== null) {
      problem(`the batch route failed during preload (${loaded.batchError.slice(0, 300)}); preloaded with single PUTs instead`);
    }
    const rssAfterPreloadKiB = mantisRss.sample();
    progress(`preloaded via ${loaded.via} in ${(preloadMs / 1000).toFixed(2)} s (${Math.round(KEY_COUNT / (preloadMs / 1000))} keys/s); MantisDB RSS ${fmtMiB(rssAfterPreloadKiB)}`);
    await smokeCheckMantis(mantis.url);
    await smokeCheckBare(bare.url);
    const batchBroken = await smokeCheckBatch(mantis.url);
    if (batchBroken !== null) problem(`a 100-op batch is answered wrongly: ${batchBroken.slice(0, 300)} (the batch scenario is still run, its figures are not ops)`);

    // The auth server: log in as the bootstrap admin (a JWT), create an API key, check that
    // requests without a credential are refused and that the rate limits are on, then preload
    // it like the other (batch route, with the API key).
    const credentials: Credentials = await authenticate(mantisAuth.url, 'admin', adminPassword, 'bench', API_KEY_ROLES);
    await smokeCheckAuthRequired(mantisAuth.url);
    const rateLimits = await rateLimitsOf(mantisAuth.url, bearer(credentials.jwt));
    if (rateLimits.rps !== AUTH_RATE_LIMIT || rateLimits.burst !== AUTH_RATE_LIMIT) {
      problem(`the auth server's rate limits are not the ones asked for (${AUTH_RATE_LIMIT} rps, burst ${AUTH_RATE_LIMIT}): ${JSON.stringify(rateLimits).slice(0, 300)}`);
    }
    progress(`auth server: logged in as admin (JWT until ${credentials.jwtExpiresAt ?? '?'}), API key with roles ${API_KEY_ROLES.join(', ')}; rate limits ${JSON.stringify(rateLimits)}`);
    progress(`preloading the auth server with ${KEY_COUNT} keys (batches with the API key)`);
    const authLoaded: PreloadOutcome = await preload(mantisAuth.url, 1000, 4, bearer(credentials.apiKey));
    if (authLoaded.batchError !== null) {
      problem(`the batch route of the auth server failed during preload (${authLoaded.batchError.slice(0, 300)}); preloaded with single PUTs instead`);
    }
    progress(`auth server preloaded via ${authLoaded.via} in ${(authLoaded.ms / 1000).toFixed(2)} s; RSS ${fmtMiB(authRss.sample())}`);
    await smokeCheckMantis(mantisAuth.url, bearer(credentials.apiKey));
    await smokeCheckMantis(mantisAuth.url, bearer(credentials.jwt));
    // The twin gets the same preload, so both start the auth pairs with the same storage.
    const twinLoaded: PreloadOutcome = await preload(twin.url, 1000, 4);
    if (twinLoaded.batchError !== null) problem(`the batch route of the twin failed during preload (${twinLoaded.batchError.slice(0, 300)}); preloaded with single PUTs instead`);
    await smokeCheckMantis(twin.url);
    progress(`auth-off twin at ${twin.url} (pid ${twin.pid}) preloaded via ${twinLoaded.via} in ${(twinLoaded.ms / 1000).toFixed(2)} s`);

    const headersOf = (s: Scenario): ExtraHeaders => (s.auth === undefined ? {} : bearer(s.auth === 'key' ? credentials.apiKey : credentials.jwt));
    const scriptName = (s: Scenario): string => (s.auth === undefined ? s.kind : `${s.kind}-auth-${s.auth}`);
    // One wrk script per kind of traffic and credential; those with a credential are readable by this user only.
    const scripts = new Map<string, string>();
    for (const { scenario: s } of PLAN) {
      const name = scriptName(s);
      if (scripts.has(name)) continue;
      const path = join(luaDir, `${name}.lua`);
      writeFileSync(path, luaScript(s.kind, headersOf(s)), { mode: 0o600 });
      scripts.set(name, path);
    }
    const drive = (server: ServerProcess, s: Scenario, load: LoadSettings): Promise<LoadResult> =>
      tool === 'wrk' ? runWrk(server.url, scripts.get(scriptName(s)) as string, load) : runAutocannon(server.url, s.kind, load, headersOf(s));
    const serverOf: Record<Target, ServerProcess> = { bare, mantis, 'mantis-auth': mantisAuth, 'mantis-twin': twin };
    const rssOf: Record<Target, RssSampler | null> = { bare: null, mantis: mantisRss, 'mantis-auth': authRss, 'mantis-twin': null };

    const results: ScenarioResult[] = [];
    for (const plan of PLAN) {
      const server = serverOf[plan.scenario.target];
      if (server.exited) throw new Error(`${server.name} has exited (code ${server.exited.code}, signal ${server.exited.signal})`);
      if (plan.limiter !== undefined) await setRateLimits(server.url, plan.limiter === 'on' ? AUTH_RATE_LIMIT : 0, credentials.jwt);
      if (warmupS > 0) {
        const warm = await drive(server, plan.scenario, { ...settings, durationS: warmupS });
        if (errorCount(warm) > 0) problem(`${plan.label}: warm-up had failed responses: ${describeErrors(warm)}`);
      }
      const meter = new NeighbourMeter([bare.pid, mantis.pid, mantisAuth.pid, twin.pid, process.pid]);
      const load = await drive(server, plan.scenario, settings);
      const cpu = meter.finish(load.toolCpuTicks);
      if (plan.limiter !== undefined) await setRateLimits(server.url, AUTH_RATE_LIMIT, credentials.jwt);
      const opsPerSec = load.requestsPerSec * plan.scenario.opsPerRequest;
      const base = plan.baselineId === null ? undefined : results.find((r) => r.scenario.id === plan.baselineId);
      const errors = errorCount(load);
      const rssAfterKiB = rssOf[plan.scenario.target]?.sample() ?? null;
      results.push({
        scenario: plan.scenario,
        label: plan.label,
        load,
        opsPerSec,
        baselineId: base ? plan.baselineId : null,
        ratio: base && base.opsPerSec > 0 ? opsPerSec / base.opsPerSec : null,
        errors,
        rssAfterKiB,
        othersCpu: cpu?.others ?? null,
      });
      if (cpu && cpu.others > 0.1) {
        problem(`${plan.label}: other processes used ${(cpu.others * 100).toFixed(0)}% of all CPU time during the measurement (noisy neighbours: figures unreliable)`);
      }
      progress(
        `${plan.label}: ${Math.round(opsPerSec)} ops/s, p50 ${load.latencyMs.p50?.toFixed(3)} ms, p99 ${load.latencyMs.p99?.toFixed(3)} ms, errors ${describeErrors(load)}` +
          (rssAfterKiB === null ? '' : `, RSS ${fmtMiB(rssAfterKiB)}`),
      );
      if (errors > 0) problem(`${plan.label}: ${describeErrors(load)} out of ${load.requests} requests`);
    }

    const mantisMemory = mantisRss.stop();
    const authMemory = authRss.stop();
    const bareMemory = bareRss.stop();
    const complaints = [...mantis.complaints];
    const authComplaints = [...mantisAuth.complaints];
    await cleanup();
    for (const [name, stop] of [['bare uWS', stops.bare], ['MantisDB', stops.mantis], ['MantisDB (auth on)', stops.mantisAuth], ['MantisDB (twin)', stops.twin]] as const) {
      if (stop && (stop.killed || stop.code !== 0)) problem(`${name} did not stop cleanly on SIGTERM: code ${stop.code}, signal ${stop.signal}${stop.killed ? ', had to be killed' : ''}`);
    }
    if (complaints.length > 0) problem(`MantisDB logged ${complaints.length} warning/error line(s); first: ${complaints[0].slice(0, 300)}`);
    if (authComplaints.length > 0) problem(`MantisDB (auth on) logged ${authComplaints.length} warning/error line(s); first: ${authComplaints[0].slice(0, 300)}`);

    const busyAfter = await machineBusyShare();
    if (busyAfter !== null && busyAfter > 0.15) {
      problem(`the machine was not idle after the run: ${(busyAfter * 100).toFixed(0)}% of all CPU time busy with the servers stopped`);
    }
    const checks = checkTargets(results);
    const finishedAt = new Date();
    const anyErrors = results.some((r) => r.errors > 0);

    const out: string[] = [];
    out.push('');
    out.push(`MantisDB KV benchmark — ${tool}, -t${settings.threads} -c${settings.connections} -d${settings.durationS}s, ${availableParallelism()} cores, shards = default (${availableParallelism()}), fsync batch ${FSYNC_BATCH_MS} ms`);
    if (tool === 'autocannon') out.push('Note: autocannon (wrk not found) is a JavaScript load generator, often slower than the servers; ratios are compressed toward 1 and latencies are whole milliseconds.');
    out.push('');
    out.push(resultsTable(results));
    out.push('');
    out.push(
      `MantisDB memory: peak RSS ${fmtMiB(mantisMemory.peakRssKiB)} (VmHWM ${fmtMiB(mantisMemory.hwmKiB)}), after preload ${fmtMiB(rssAfterPreloadKiB)}, at end ${fmtMiB(mantisMemory.lastRssKiB)}; bare uWS peak ${fmtMiB(bareMemory.hwmKiB ?? bareMemory.peakRssKiB)}`,
    );
    out.push(`Preload: ${KEY_COUNT} keys via ${loaded.via === 'batch' ? '1000-op batches' : 'single PUTs (batch route failed)'} in ${(preloadMs / 1000).toFixed(2)} s; MantisDB stopped in ${stops.mantis?.ms ?? '?'} ms`);
    out.push(
      `Auth scenarios: a second MantisDB with --auth on --rate-limit-rps ${AUTH_RATE_LIMIT} --rate-limit-burst ${AUTH_RATE_LIMIT} (limits on, never refusing), ` +
        `the same ${KEY_COUNT} keys preloaded with the API key in ${(authLoaded.ms / 1000).toFixed(2)} s; each compared with the run just before it on an auth-off twin with the same history. ` +
        `Peak RSS ${fmtMiB(authMemory.peakRssKiB)} (VmHWM ${fmtMiB(authMemory.hwmKiB)}); stopped in ${stops.mantisAuth?.ms ?? '?'} ms`,
    );
    out.push('');
    out.push(targetsTable(checks));
    out.push('');
    if (anyErrors) {
      out.push('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
      out.push('!!  RESPONSES FAILED: the figures above include failed requests and   !!');
      out.push('!!  must not be trusted. See the errors column / problems below.      !!');
      out.push('!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!');
    }
    if (problems.length > 0) {
      out.push('Problems:');
      for (const p of problems) out.push(`  - ${p}`);
    }

    const file = resultsPath(ROOT, 'kv', startedAt);
    const json = {
      benchmark: 'kv',
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      machine: { busyBefore, busyAfter, cores: availableParallelism(), cpu: cpus()[0]?.model ?? null, totalMemMiB: Math.round(totalmem() / 2 ** 20), loadavg: loadavg(), node: process.version, platform: process.platform },
      settings: { tool, wrk: tool === 'wrk' ? wrkVersion() : null, ...settings, warmupS, waitIdleS, keys: KEY_COUNT, valueBytes: 100 },
      mantis: {
        shards: 'default',
        fsync: 'batch',
        fsyncBatchMs: FSYNC_BATCH_MS,
        preload: { ...loaded, ms: Math.round(preloadMs) },
        batchSmokeCheck: batchBroken,
        memoryKiB: { ...mantisMemory, afterPreload: rssAfterPreloadKiB },
        stop: stops.mantis,
        complaints,
      },
      mantisAuth: {
        shards: 'default',
        fsync: 'batch',
        fsyncBatchMs: FSYNC_BATCH_MS,
        flags: AUTH_FLAGS,
        rateLimits,
        credentials: { jwt: { user: 'admin', expiresAt: credentials.jwtExpiresAt }, apiKey: { roles: API_KEY_ROLES } },
        preload: { ...authLoaded, ms: Math.round(authLoaded.ms) },
        memoryKiB: authMemory,
        stop: stops.mantisAuth,
        complaints: authComplaints,
      },
      bare: { memoryKiB: bareMemory, stop: stops.bare },
      scenarios: results.map((r) => ({
        id: r.scenario.id,
        label: r.label,
        target: r.scenario.target,
        kind: r.scenario.kind,
        auth: r.scenario.auth ?? null,
        opsPerRequest: r.scenario.opsPerRequest,
        opsPerSec: r.opsPerSec,
        requestsPerSec: r.load.requestsPerSec,
        requests: r.load.requests,
        durationS: r.load.durationS,
        latencyMs: r.load.latencyMs,
        non2xx: r.load.non2xx,
        socketErrors: r.load.socketErrors,
        baseline: r.baselineId,
        ratio: r.ratio,
        rssAfterKiB: r.rssAfterKiB,
        othersCpu: r.othersCpu,
        loadGeneratorCpuTicks: r.load.toolCpuTicks,
        raw: r.load.raw,
      })),
      targets: checks,
      problems,
    };
    writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
    out.push(`Results written to ${file}`);
    process.stdout.write(out.join('\n') + '\n');
    return anyErrors || problems.length > 0 ? 1 : 0;
  } catch (error) {
    if (interrupted) return 130;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    progress(`FAILED: ${message}`);
    for (const server of [servers.mantis, servers.mantisAuth, servers.twin, servers.bare]) {
      if (server && server.output.length > 0) progress(`${server.name} last output:\n    ${server.output.slice(-15).join('\n    ')}`);
    }
    for (const server of [servers.mantis, servers.mantisAuth]) {
      const rss = server ? procStatusKiB(server.pid, 'VmHWM') : null;
      if (server && rss !== null) progress(`${server.name} VmHWM at failure: ${fmtMiB(rss)}`);
    }
    return 1;
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[kv-bench] ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
