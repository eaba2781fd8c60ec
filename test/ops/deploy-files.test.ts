// The deployment files under deploy/: the Dockerfile, the Kubernetes
// manifests, the Prometheus configuration and alert rules, the Grafana
// dashboard and the systemd unit. They parse, hold what they must (non-root,
// probes on the real health routes, a volume for the data directory), agree
// with the server's flags, and every metric their PromQL names is one a real
// server exposes at /api/metrics/prometheus. promtool checks the Prometheus
// files when it is on PATH; under CI it must be (.ci/run installs it).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { OPTIONS } from '../../src/config.js';
import { defaultRules } from '../../src/ops/alerts.js';
import { SECRET_NAMES } from '../../src/security/setup.js';
import { expectOk } from '../helpers/http-client.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { dashboardExpressions, parseExposition, promqlMetricNames, ruleExpressions, type Located } from './promql-names.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const DEPLOY = join(ROOT, 'deploy');
const DOCKERFILE = join(DEPLOY, 'Dockerfile');
const HEALTHCHECK = join(DEPLOY, 'healthcheck.mjs');
const K8S = join(DEPLOY, 'kubernetes');
const PROMETHEUS_CONFIG = join(DEPLOY, 'prometheus', 'prometheus.yml');
const ALERTS = join(DEPLOY, 'prometheus', 'mantisdb-alerts.yml');
const ALERTS_TEST = join(DEPLOY, 'prometheus', 'mantisdb-alerts.test.yml');
const DASHBOARD = join(DEPLOY, 'grafana', 'mantisdb-dashboard.json');
const SYSTEMD = join(DEPLOY, 'mantisdb.service');

/** Series Prometheus makes itself, not the server. */
const PROMETHEUS_OWN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'ALERTS', 'ALERTS_FOR_STATE']);

const ENV_NAMES = new Set<string>([...OPTIONS.map((o) => o.env), ...SECRET_NAMES]);
const DEFAULT_PORT = Number(OPTIONS.find((o) => o.flag === 'port')?.fallback);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
// Parsed YAML and JSON, loosely typed: the assertions below say what must be there.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function yamlFile(path: string): Json {
  return parseYaml(read(path), { prettyErrors: true }) as Json;
}

// ---------------------------------------------------------------- Dockerfile

type Instruction = { readonly op: string; readonly args: string };

/** Dockerfile instructions in order: comments dropped, continuation lines joined. */
function dockerInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (pending !== '' && line.trimStart().startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const space = full.search(/\s/);
    out.push({ op: (space < 0 ? full : full.slice(0, space)).toUpperCase(), args: space < 0 ? '' : full.slice(space + 1).trim() });
  }
  return out;
}

describe('Dockerfile', () => {
  const text = read(DOCKERFILE);
  const steps = dockerInstructions(text);
  const all = (op: string): string[] => steps.filter((s) => s.op === op).map((s) => s.args);

  it('is multi-stage on node:20-bookworm-slim: npm ci + npm run build, then production dependencies and dist', () => {
    expect(text).toMatch(/docker build -f deploy\/Dockerfile/);
    expect(all('ARG')).toContain('NODE_IMAGE=node:20-bookworm-slim');
    const froms = all('FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^(\$\{NODE_IMAGE\}|node:20-bookworm-slim)(\s|$)/);
    const runs = all('RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build\b/);
    expect(runs).toMatch(/npm ci\b.*--omit=dev/);
    const copies = all('COPY');
    expect(copies.some((c) => c.includes('--from=') && c.includes('dist/src'))).toBe(true);
    expect(copies.some((c) => c.includes('--from=') && c.includes('node_modules'))).toBe(true);
    // The dashboard is built in the build stage and served from dist/admin.
    expect(copies.some((c) => !c.includes('--from=') && /^admin\s/.test(c))).toBe(true);
    expect(copies.some((c) => c.includes('--from=') && c.includes('dist/admin'))).toBe(true);
  });

  it('copies only paths that exist in the repository (the build context is the repo root)', () => {
    for (const copy of all('COPY').filter((c) => !c.includes('--from='))) {
      const words = copy.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) expect(existsSync(join(ROOT, source)), `COPY source ${source}`).toBe(true);
    }
  });

  it('runs as a numeric non-root user, with the data directory as a volume and the default port exposed', () => {
    const users = all('USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1];
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    expect(all('VOLUME').join(' ')).toContain('/var/lib/mantisdb');
    expect(all('EXPOSE')).toEqual([String(DEFAULT_PORT)]);
    const env = all('ENV').join(' ');
    expect(env).toMatch(/MANTIS_DATA_DIR=\/var\/lib\/mantisdb\b/);
    expect(env).toMatch(/MANTIS_HOST=0\.0\.0\.0\b/);
    expect(env).toMatch(new RegExp(`MANTIS_PORT=${DEFAULT_PORT}\\b`));
    for (const name of env.match(/MANTIS_\w+/g) ?? []) expect(ENV_NAMES, `ENV ${name}`).toContain(name);
    const entry = all('ENTRYPOINT').join(' ');
    expect(entry).toContain('dist/src/main.js');
  });

  it('has a HEALTHCHECK that runs node on deploy/healthcheck.mjs (GET /health/live)', () => {
    const checks = all('HEALTHCHECK');
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatch(/CMD \["node", "\/app\/deploy\/healthcheck\.mjs"\]/);
    expect(read(HEALTHCHECK)).toContain('/health/live');
    expect(read(HEALTHCHECK)).toContain('127.0.0.1');
  });
});

// ---------------------------------------------------------------- systemd

describe('systemd unit', () => {
  it('exists and starts the built server as a non-root user, stopped by SIGTERM', () => {
    const unit = read(SYSTEMD);
    expect(unit).toMatch(/^ExecStart=.*dist\/src\/main\.js/m);
    expect(unit).toMatch(/^User=(?!root$)\S+/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    for (const name of unit.match(/^Environment=(MANTIS_\w+)=/gm) ?? []) expect(ENV_NAMES).toContain(name.slice('Environment='.length, -1));
  });
});

// ---------------------------------------------------------------- Kubernetes

function k8sObjects(): { file: string; object: Loose }[] {
  const kustomization = yamlFile(join(K8S, 'kustomization.yaml')) as Loose;
  const resources = kustomization.resources as string[];
  const objects: { file: string; object: Loose }[] = [];
  for (const file of resources) {
    for (const doc of parseAllDocuments(read(join(K8S, file)))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const object = doc.toJS() as Loose | null;
      if (object !== null) objects.push({ file, object });
    }
  }
  return objects;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

describe('Kubernetes manifests', () => {
  const objects = k8sObjects();
  const ofKind = (kind: string): Loose[] => objects.filter((o) => o.object.kind === kind).map((o) => o.object);
  const one = (kind: string): Loose => {
    const found = ofKind(kind);
    expect(found, kind).toHaveLength(1);
    return found[0];
  };

  it('kustomization.yaml lists every manifest, and they hold the required kinds (no Secret with values)', () => {
    const listed = (yamlFile(join(K8S, 'kustomization.yaml')) as Loose).resources as string[];
    const files = readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files.sort());
    const kinds = new Set(objects.map((o) => o.object.kind));
    for (const kind of ['StatefulSet', 'Service', 'ConfigMap', 'PodDisruptionBudget', 'ServiceMonitor']) expect(kinds).toContain(kind);
    expect(kinds).not.toContain('Secret');
    for (const { file, object } of objects) {
      expect(typeof object.apiVersion, file).toBe('string');
      expect(typeof object.metadata?.name, file).toBe('string');
    }
    expect(one('ServiceMonitor').apiVersion).toBe('monitoring.coreos.com/v1');
  });

  it('the ConfigMap sets only MANTIS_* variables the server knows', () => {
    const data = one('ConfigMap').data as Record<string, string>;
    for (const [name, value] of Object.entries(data)) {
      expect(ENV_NAMES, name).toContain(name);
      expect(typeof value, name).toBe('string');
    }
    expect(SECRET_NAMES.some((s) => s in data)).toBe(false);
  });

  it('the StatefulSet: a volume claim at the data directory, probes on the health routes, non-root, secrets by reference', () => {
    const set = one('StatefulSet');
    const config = one('ConfigMap');
    const pod = set.spec.template.spec as Loose;
    const containers = pod.containers as Loose[];
    expect(containers).toHaveLength(1);
    const c = containers[0];

    expect(set.spec.replicas).toBe(1);
    expect(matches(set.spec.selector.matchLabels, set.spec.template.metadata.labels)).toBe(true);
    const claims = set.spec.volumeClaimTemplates as Loose[];
    expect(claims.length).toBeGreaterThan(0);
    const dataMount = (c.volumeMounts as Loose[]).find((m) => claims.some((t) => t.metadata.name === m.name));
    expect(dataMount?.mountPath).toBe(config.data.MANTIS_DATA_DIR);
    expect(claims[0].spec.resources.requests.storage).toMatch(/^\d+[GT]i$/);

    const port = (c.ports as Loose[]).find((p) => p.name === 'http');
    expect(port?.containerPort).toBe(Number(config.data.MANTIS_PORT));
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/health/live', port: 'http' });
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/health/ready', port: 'http' });
    expect(c.startupProbe.httpGet).toMatchObject({ path: '/health/live', port: 'http' });
    expect((c.envFrom as Loose[]).map((e) => e.configMapRef?.name)).toContain(config.metadata.name);

    // SIGTERM drains for up to 10 s, then flushes the WALs.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    const dockerUser = dockerInstructions(read(DOCKERFILE)).filter((s) => s.op === 'USER').pop()?.args ?? '';
    expect(pod.securityContext.runAsUser).toBe(Number(dockerUser.split(':')[0]));
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    for (const kind of ['requests', 'limits']) {
      expect(c.resources[kind].cpu, kind).toBeDefined();
      expect(c.resources[kind].memory, kind).toBeDefined();
    }

    const env = c.env as Loose[];
    for (const name of ['MANTIS_ADMIN_PASSWORD', 'MANTIS_JWT_SECRET']) {
      const entry = env.find((e) => e.name === name);
      expect(entry?.valueFrom?.secretKeyRef?.name, name).toBe('mantisdb-secrets');
      expect(entry?.value, name).toBeUndefined();
    }
    for (const entry of env) {
      expect(ENV_NAMES, entry.name).toContain(entry.name);
      expect(entry.value, `${entry.name} must come from a reference`).toBeUndefined();
    }
  });

  it('Services: a headless one governs the StatefulSet, a client one; both select the pods on the http port', () => {
    const set = one('StatefulSet');
    const podLabels = set.spec.template.metadata.labels as Record<string, string>;
    const services = ofKind('Service');
    expect(services).toHaveLength(2);
    const headless = services.find((s) => s.spec.clusterIP === 'None');
    expect(headless?.metadata.name).toBe(set.spec.serviceName);
    for (const service of services) {
      expect(matches(service.spec.selector, podLabels), service.metadata.name).toBe(true);
      expect(service.spec.ports.map((p: Loose) => p.targetPort)).toContain('http');
    }
    const pdb = one('PodDisruptionBudget');
    expect(matches(pdb.spec.selector.matchLabels, podLabels)).toBe(true);
  });

  it('the ServiceMonitor scrapes /api/metrics/prometheus through exactly one Service, named as the alerts expect the job', () => {
    const monitor = one('ServiceMonitor');
    const endpoints = monitor.spec.endpoints as Loose[];
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ port: 'http', path: '/api/metrics/prometheus' });
    const selected = ofKind('Service').filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
    expect(selected.map((s) => s.metadata.name)).toEqual(['mantisdb']);
    expect(read(ALERTS)).toContain('up{job="mantisdb"}');
  });
});

// ---------------------------------------------------------------- Prometheus and Grafana

/** What each Prometheus rule must be: the server's default rules, plus the two about MantisDB as a whole. */
const EXPECTED_ALERTS: Record<string, { for: string; severity?: string; metrics: string[] }> = {
  'high-error-rate': { for: '1m', severity: 'critical', metrics: ['mantis_http_requests_total'] },
  'low-cache-hit-rate': { for: '5m', severity: 'warning', metrics: ['mantis_cache_hits_total', 'mantis_cache_misses_total'] },
  'connection-pool-exhaustion': { for: '1m', severity: 'warning', metrics: ['mantis_http_connections', 'mantis_http_connections_max'] },
  'disk-space-low': { for: '1m', severity: 'critical', metrics: ['mantis_disk_free_bytes'] },
  'high-latency': { for: '1m', severity: 'warning', metrics: ['mantis_http_request_duration_seconds_bucket'] },
  'mantisdb-alert-firing': { for: '0m', metrics: ['mantis_alert_firing'] },
  'mantisdb-down': { for: '1m', severity: 'critical', metrics: ['up'] },
};

function seconds(duration: string): number {
  const m = /^(\d+)([smh])$/.exec(duration);
  if (m === null) throw new Error(`unexpected duration ${duration}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

describe('Prometheus rules and configuration', () => {
  const rules = (yamlFile(ALERTS) as Loose).groups.flatMap((g: Loose) => g.rules) as Loose[];

  it('mantisdb-alerts.yml has the seven alerts, with their durations, severities, annotations and metrics', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(Object.keys(EXPECTED_ALERTS).sort());
    for (const rule of rules) {
      const want = EXPECTED_ALERTS[rule.alert];
      expect(rule.for, rule.alert).toBe(want.for);
      if (want.severity !== undefined) expect(rule.labels?.severity, rule.alert).toBe(want.severity);
      expect(typeof rule.annotations?.summary, rule.alert).toBe('string');
      expect(typeof rule.annotations?.description, rule.alert).toBe('string');
      expect(promqlMetricNames(rule.expr).sort(), rule.alert).toEqual([...want.metrics].sort());
    }
    const firing = rules.find((r) => r.alert === 'mantisdb-alert-firing');
    expect(firing?.expr.trim()).toBe('mantis_alert_firing == 1');
    expect(firing?.labels?.mantisdb_alert).toBe('{{ $labels.name }}');
  });

  it("mirrors the server's default alert rules: same names, severities and durations", () => {
    for (const rule of defaultRules(1000)) {
      const prom = rules.find((r) => r.alert === rule.name);
      expect(prom, rule.name).toBeDefined();
      expect(prom?.labels?.severity, rule.name).toBe(rule.severity);
      expect(seconds(prom?.for), rule.name).toBe(rule.for_s);
    }
  });

  it('prometheus.yml scrapes job mantisdb at /api/metrics/prometheus and loads the alert rules', () => {
    const config = yamlFile(PROMETHEUS_CONFIG) as Loose;
    const job = (config.scrape_configs as Loose[]).find((s) => s.job_name === 'mantisdb');
    expect(job?.metrics_path).toBe('/api/metrics/prometheus');
    expect(config.rule_files).toContain('mantisdb-alerts.yml');
    expect((yamlFile(ALERTS_TEST) as Loose).rule_files).toEqual(['mantisdb-alerts.yml']);
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read(DASHBOARD)) as Json;
  const d = dashboard as Loose;

  it('is an importable dashboard on a templated Prometheus data source, with the required rows', () => {
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(d.id).toBeNull();
    expect(typeof d.uid).toBe('string');
    const ds = (d.templating.list as Loose[]).find((v) => v.name === 'DS_PROMETHEUS');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const panels = d.panels as Loose[];
    const rows = panels.filter((p) => p.type === 'row').map((p) => p.title);
    for (const title of ['Throughput', 'Latency', 'Cache', 'Shards', 'Storage', 'Transactions', 'Alerts']) expect(rows).toContain(title);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
  });

  it('graphs the metrics the brief asks for', () => {
    const names = new Set(dashboardExpressions(dashboard).flatMap((e) => promqlMetricNames(e.expr)));
    for (const name of [
      'mantis_http_requests_total',
      'mantis_http_request_duration_seconds_bucket',
      'mantis_cache_hits_total',
      'mantis_cache_misses_total',
      'mantis_cache_bytes',
      'mantis_cache_evictions_total',
      'mantis_shard_ops_total',
      'mantis_shard_queued_requests',
      'mantis_shard_inflight_requests',
      'mantis_shard_ready',
      'mantis_wal_bytes_total',
      'mantis_wal_fsync_duration_seconds_bucket',
      'mantis_lsm_tables',
      'mantis_lsm_compactions_total',
      'mantis_disk_free_bytes',
      'mantis_txn_commits_total',
      'mantis_txn_aborts_total',
      'mantis_alert_firing',
    ]) {
      expect(names, name).toContain(name);
    }
  });
});

describe('PromQL metric names', () => {
  it('are the selected series, not functions, keywords, labels, strings, durations or Grafana variables', () => {
    expect(promqlMetricNames('histogram_quantile(0.99, sum by (le, route) (rate(mantis_x_bucket{job=~"$job", a="b{c}"}[$__rate_interval])))')).toEqual(['mantis_x_bucket']);
    expect(promqlMetricNames('sum(rate(a_total[5m])) by (instance) / on (instance) group_left(name) b > bool 0.5 and c offset 1h or vector(0)').sort()).toEqual(['a_total', 'b', 'c']);
    expect(promqlMetricNames('up{job="mantisdb"} == 0')).toEqual(['up']);
    expect(promqlMetricNames('min by (job) (d) < 1e9 unless max_over_time(e[1h:5m]) > 1')).toEqual(['d', 'e']);
    expect(dashboardExpressions({ templating: { list: [{ type: 'query', name: 'v', query: { query: 'label_values(f{job="x"}, instance)' } }] } }).map((e: Located) => promqlMetricNames(e.expr))).toEqual([['f']]);
  });

  it('the exposition parser reads sample names and declared families', () => {
    const text = ['# HELP h x', '# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_sum 1', 'h_count 1', '# TYPE g gauge', 'c_total{a="b"} 3', ''].join('\n');
    const parsed = parseExposition(text);
    expect([...parsed.samples].sort()).toEqual(['c_total', 'h_bucket', 'h_count', 'h_sum']);
    expect([...parsed.declared].sort()).toEqual(['g', 'h_bucket', 'h_count', 'h_sum']);
  });
});

// ---------------------------------------------------------------- a real server

const TXN_HEADER = 'Mantis-Txn';

describe('against a running server', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startServer({ shards: 2 });
  });

  afterAll(async () => {
    await server?.stop();
    await cleanup();
  });

  /** Requests of several kinds, so the labelled series (routes, txn paths and reasons, per-shard cache) exist. */
  async function traffic(url: string): Promise<void> {
    const kv = (key: string): string => `${url}/api/v1/kv/${encodeURIComponent(key)}`;
    for (let i = 0; i < 8; i++) await expectOk(await fetch(kv(`deploy:${i}`), { method: 'PUT', body: `value ${i}`, headers: { 'content-type': 'text/plain' } }));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 8; i++) {
        const answer = await fetch(kv(`deploy:${i}`));
        expect(answer.status).toBe(200);
        expect(await answer.text()).toBe(`value ${i}`);
      }
    }
    expect((await fetch(kv('deploy:missing'))).status).toBe(404);
    await expectOk(await fetch(`${url}/api/v1/kv?prefix=deploy:`));

    const begin = async (): Promise<string> => (await expectOk<{ id: string }>(await fetch(`${url}/api/v1/txn`, { method: 'POST' }))).data.id;
    const committed = await begin();
    await expectOk(await fetch(kv('deploy:txn'), { method: 'PUT', body: 'in a txn', headers: { 'content-type': 'text/plain', [TXN_HEADER]: committed } }));
    await expectOk(await fetch(`${url}/api/v1/txn/${encodeURIComponent(committed)}/commit`, { method: 'POST' }));
    const rolledBack = await begin();
    await expectOk(await fetch(`${url}/api/v1/txn/${encodeURIComponent(rolledBack)}/rollback`, { method: 'POST' }));
    await expectOk(
      await fetch(`${url}/api/v1/txn/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ operations: [{ op: 'put', key: 'deploy:execute', value: '1' }] }),
      }),
    );

    await expectOk(
      await fetch(`${url}/api/v1/docs/deploy_users/insert`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ documents: [{ name: 'Ada' }, { name: 'Grace' }] }),
      }),
    );
    await expectOk(await fetch(`${url}/api/v1/cache/stats`));
    await expectOk(await fetch(`${url}/health/ready`));
  }

  it('exposes every metric named by the dashboard and the alert rules', async () => {
    await traffic(server.url);
    const answer = await fetch(`${server.url}/api/metrics/prometheus`);
    expect(answer.status).toBe(200);
    const exposition = parseExposition(await answer.text());
    expect(exposition.samples.size).toBeGreaterThan(50);

    const used: Located[] = [...dashboardExpressions(JSON.parse(read(DASHBOARD)) as Json).map((e) => ({ ...e, where: `dashboard ${e.where}` })), ...ruleExpressions(yamlFile(ALERTS)).map((e) => ({ ...e, where: `alerts ${e.where}` }))];
    expect(used.length).toBeGreaterThan(50);
    const missing = new Map<string, string[]>();
    for (const { where, expr } of used) {
      const names = promqlMetricNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        if (PROMETHEUS_OWN.has(name) || exposition.samples.has(name)) continue;
        missing.set(name, [...(missing.get(name) ?? []), where]);
      }
    }
    const report = [...missing].map(([name, places]) => {
      const why = exposition.declared.has(name) ? 'declared (# TYPE) but has no sample after the traffic above' : 'not in the exposition';
      return `${name}: ${why}; used by ${places.slice(0, 3).join(', ')}${places.length > 3 ? ` and ${places.length - 3} more` : ''}`;
    });
    expect(report, `metrics the server does not expose:\n${report.join('\n')}`).toEqual([]);
  });

  it('deploy/healthcheck.mjs exits 0 against the live server and 1 when nothing listens', async () => {
    const run = (port: number): { status: number | null; stderr: string } => {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, MANTIS_PORT: String(port) };
      const result = spawnSync(process.execPath, [HEALTHCHECK], { env, encoding: 'utf8', timeout: 15_000 });
      return { status: result.status, stderr: result.stderr };
    };
    expect(run(server.port)).toEqual({ status: 0, stderr: '' });
    const closed = await new Promise<number>((done, fail) => {
      const probe = createServer();
      probe.once('error', fail);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => done(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const down = run(closed);
    expect(down.status).toBe(1);
    expect(down.stderr).toContain('/health/live');
  });
});

// ---------------------------------------------------------------- promtool

function promtoolPath(): string | null {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0 ? 'promtool' : null;
}

const PROMTOOL = promtoolPath();
const UNDER_CI = Boolean(process.env.CI);

describe('promtool', () => {
  // Skipped only on a developer machine without promtool: under CI a missing promtool fails.
  it.skipIf(PROMTOOL === null && !UNDER_CI)('checks the rules, the configuration and the dashboard\'s PromQL, and runs the rule unit tests', () => {
    if (PROMTOOL === null) throw new Error('promtool is not on PATH, and CI is set: CI must check the Prometheus files (.ci/run installs the prometheus package)');
    // The dashboard's expressions as recording rules, Grafana's variables replaced, so promtool parses each one.
    const dir = mkdtempSync(join(tmpdir(), 'mantis-dashboard-promql-'));
    const dashboardRules = join(dir, 'dashboard-rules.yml');
    const substitute = (expr: string): string =>
      expr
        .replace(/\$__rate_interval|\$__interval/g, '1m')
        .replace(/\$__range/g, '1h')
        .replace(/\$\{?\w+\}?/g, '.+');
    const expressions = dashboardExpressions(JSON.parse(read(DASHBOARD)) as Json);
    writeFileSync(dashboardRules, JSON.stringify({ groups: [{ name: 'dashboard', rules: expressions.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: substitute(e.expr) })) }] }));
    try {
      for (const args of [
        ['check', 'rules', ALERTS],
        ['check', 'config', PROMETHEUS_CONFIG],
        ['test', 'rules', ALERTS_TEST],
        ['check', 'rules', dashboardRules],
      ]) {
        const result = spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
        expect({ args: args.join(' '), status: result.status, output: result.status === 0 ? '' : `${result.stdout}${result.stderr}` }).toEqual({ args: args.join(' '), status: 0, output: '' });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
