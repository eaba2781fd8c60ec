// Overview: live charts from the metric stream (SSE /api/v1/metrics/stream),
// seeded from /api/v1/metrics/history so they are never empty; shard health
// from /health/ready; alert states from /api/v1/alerts.

import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AlignedData } from 'uplot';
import { api, ApiError } from '../api';
import { TimeChart, PALETTE, type ChartSeries } from '../chart';
import { Badge, DataGrid, EmptyState, formatBytes, formatNumber, formatTime, Loading, PageHeader, Panel, Stat, Tabs } from '../components';
import { useApi, useEventStream } from '../hooks';
import { useQueryParam } from '../router';
import { notify } from '../toast';

type ShardSnapshot = { id: number; ops_per_s: number; queue_depth: number; wal_bytes: number; wal_bytes_per_s: number; fsync_p99_ms: number | null; ready: boolean };
export type Snapshot = {
  ts: number;
  interval_ms: number;
  requests_per_s: number;
  errors_per_s: number;
  error_ratio: number;
  by_class: Record<string, { requests_per_s: number; errors_per_s: number }>;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  cache_hit_rate: number | null;
  memory_rss_bytes: number;
  memory_heap_used_bytes: number;
  disk_free_bytes: number;
  open_transactions: number;
  connections: number;
  compactions_per_s: number;
  flushes_per_s: number;
  wal_bytes_per_s: number;
  shards: ShardSnapshot[];
};

type Alert = { name: string; state: 'inactive' | 'pending' | 'firing'; value: number | null; since: string | null; severity: string; metric: string; op: string; threshold: number; for_s: number };
type ShardHealth = { id: number; state: string; keys: number; restarts: number; storage_failed: boolean; quarantined_tables: number; disk: { table_bytes: number; wal_bytes: number; free_bytes: number } };

const WINDOWS = [
  { id: '5', label: '5 min' },
  { id: '15', label: '15 min' },
  { id: '60', label: '1 hour' },
] as const;
type WindowId = (typeof WINDOWS)[number]['id'];

const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;
const perS = (v: number) => `${formatNumber(v, v < 10 ? 1 : 0)}/s`;
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

export default function OverviewSection() {
  const [windowParam, setWindow] = useQueryParam('window', '15');
  const windowMin: WindowId = (WINDOWS.find((w) => w.id === windowParam)?.id ?? '15') as WindowId;
  const [points, setPoints] = useState<Snapshot[] | null>(null);
  const [historyError, setHistoryError] = useState<Error | undefined>(undefined);

  // Seed from the history, then append what the stream brings (both in time order).
  useEffect(() => {
    const controller = new AbortController();
    setPoints(null);
    api.get<Snapshot[]>('/api/v1/metrics/history', { query: { minutes: windowMin }, signal: controller.signal }).then(
      (answer) => setPoints((current) => merge(answer.data, current ?? [], Number(windowMin))),
      (error: Error) => {
        if (controller.signal.aborted) return;
        notify.error(error);
        setHistoryError(error);
        setPoints((current) => current ?? []);
      },
    );
    return () => controller.abort();
  }, [windowMin]);

  const alerts = useApi<Alert[]>('/api/v1/alerts', { refreshMs: 10_000 });
  const reloadAlerts = alerts.reload;
  const onEvent = useCallback(
    (event: { event: string; data: string }) => {
      if (event.event === 'metrics') {
        const snapshot = JSON.parse(event.data) as Snapshot;
        setPoints((current) => merge(current ?? [], [snapshot], Number(windowMin)));
      } else if (event.event === 'alert') reloadAlerts();
    },
    [windowMin, reloadAlerts],
  );
  const stream = useEventStream('/api/v1/metrics/stream', onEvent, { interval_ms: 1000 });
  const health = useApi<{ ready: boolean; shards: ShardHealth[] }>('/health/ready', { refreshMs: 5000, toast: false });

  // A refusal (401/403) is not an outage: it will not pass by reconnecting.
  const refused = stream.error instanceof ApiError && (stream.error.status === 401 || stream.error.status === 403);
  const latest = points !== null && points.length > 0 ? points[points.length - 1] : undefined;
  const charts = useMemo(() => (points === null ? null : chartData(points)), [points]);
  const firing = (alerts.data ?? []).filter((a) => a.state !== 'inactive');

  return (
    <>
      <PageHeader
        title="Overview"
        description={
          <>
            Live from the metric stream{' '}
            <Badge tone={stream.connected ? 'good' : refused ? 'bad' : 'warn'}>{stream.connected ? 'streaming' : refused ? `refused: ${(stream.error as ApiError).code}` : 'reconnecting'}</Badge>
          </>
        }
        actions={<Tabs label="Chart window" tabs={WINDOWS} value={windowMin} onChange={(id) => setWindow(id)} />}
      />
      <div className="cards" aria-label="Current figures">
        <Stat label="Requests" value={latest === undefined ? '–' : perS(latest.requests_per_s)} hint={latest === undefined ? undefined : `${perS(latest.errors_per_s)} errors (5xx)`} />
        <Stat label="Latency p99" value={latest?.latency_p99_ms == null ? '–' : ms(latest.latency_p99_ms)} hint={latest?.latency_p50_ms == null ? 'no requests in the last second' : `p50 ${ms(latest.latency_p50_ms)}`} />
        <Stat label="Cache hit rate" value={latest?.cache_hit_rate == null ? '–' : pct(latest.cache_hit_rate)} hint={latest?.cache_hit_rate == null ? 'no cache lookups in the last second' : undefined} />
        <Stat label="Memory (RSS)" value={formatBytes(latest?.memory_rss_bytes)} hint={latest === undefined ? undefined : `heap ${formatBytes(latest.memory_heap_used_bytes)}`} />
        <Stat label="Connections" value={formatNumber(latest?.connections)} hint="requests in flight and open streams" />
        <Stat label="Open transactions" value={formatNumber(latest?.open_transactions)} />
        <Stat label="Disk free" value={formatBytes(latest?.disk_free_bytes)} />
        <Stat label="WAL written" value={latest === undefined ? '–' : `${formatBytes(latest.wal_bytes_per_s)}/s`} hint={latest === undefined ? undefined : `${formatNumber(latest.flushes_per_s, 2)} flushes/s, ${formatNumber(latest.compactions_per_s, 2)} compactions/s`} />
      </div>

      <Panel title="Alerts" actions={<a href="/admin/settings?tab=alerts">Edit rules</a>}>
        {alerts.loading && alerts.data === undefined ? (
          <Loading label="Loading alerts…" />
        ) : alerts.data === undefined ? (
          <EmptyState title="Alert states could not be read">
            {alerts.error instanceof ApiError ? `${alerts.error.code}: ${alerts.error.message}` : 'The server did not answer; the page tries again every 10 s.'}
          </EmptyState>
        ) : firing.length === 0 ? (
          <EmptyState title="No alert is pending or firing">{`${alerts.data.length} rules are watched; change them under Settings → Alert rules.`}</EmptyState>
        ) : (
          <DataGrid
            caption="Pending and firing alerts"
            rows={firing}
            rowKey={(a) => a.name}
            columns={[
              { key: 'name', label: 'Rule' },
              { key: 'state', label: 'State', render: (a) => <Badge tone={a.state === 'firing' ? 'bad' : 'warn'}>{a.state}</Badge> },
              { key: 'severity', label: 'Severity' },
              { key: 'rule', label: 'Condition', render: (a) => `${a.metric} ${a.op} ${a.threshold} for ${a.for_s} s` },
              { key: 'value', label: 'Value', numeric: true, render: (a) => formatNumber(a.value, 3) },
              { key: 'since', label: 'Since', render: (a) => formatTime(a.since) },
            ]}
          />
        )}
      </Panel>

      {charts === null ? (
        <Loading label="Loading metric history…" />
      ) : points !== null && points.length === 0 ? (
        <EmptyState title="No metric history yet">{historyError !== undefined ? 'The history could not be read; the charts fill from the live stream.' : 'The server records one snapshot per second; the charts fill within seconds.'}</EmptyState>
      ) : (
        <div className="charts">
          <Panel title="Throughput">
            <TimeChart
              title="Requests and errors per second"
              series={[
                { label: 'requests/s', color: PALETTE[0], format: perS },
                { label: 'reads/s', color: PALETTE[1], format: perS },
                { label: 'writes/s', color: PALETTE[2], format: perS },
                { label: 'errors/s', color: PALETTE[3], format: perS },
              ]}
              data={charts.throughput}
            />
          </Panel>
          <Panel title="Latency">
            <TimeChart
              title="Latency percentiles (ms)"
              series={[
                { label: 'p50', color: PALETTE[0], format: ms },
                { label: 'p95', color: PALETTE[2], format: ms },
                { label: 'p99', color: PALETTE[3], format: ms },
              ]}
              data={charts.latency}
            />
          </Panel>
          <Panel title="Cache hit rate">
            <TimeChart title="Cache hit rate (%)" series={[{ label: 'hit rate', color: PALETTE[1], format: (v) => `${v.toFixed(1)} %` }]} data={charts.cache} yRange={[0, 100]} />
          </Panel>
          <Panel title="Per-shard load">
            <TimeChart title="Operations per second by shard" series={charts.shardSeries} data={charts.shards} />
          </Panel>
          <Panel title="Memory">
            <TimeChart
              title="Memory (MiB)"
              series={[
                { label: 'RSS', color: PALETTE[4], format: (v) => `${v.toFixed(0)} MiB` },
                { label: 'heap used', color: PALETTE[5], format: (v) => `${v.toFixed(0)} MiB` },
              ]}
              data={charts.memory}
            />
          </Panel>
          <Panel title="Storage activity">
            <TimeChart
              title="WAL bytes per second (KiB/s)"
              series={[{ label: 'WAL KiB/s', color: PALETTE[6], format: (v) => `${v.toFixed(1)} KiB/s` }]}
              data={charts.wal}
            />
          </Panel>
        </div>
      )}

      <Panel title="Shards" actions={<span className="muted">from /health/ready and the latest snapshot</span>}>
        {health.data === undefined && health.loading ? (
          <Loading label="Loading shard health…" />
        ) : (health.data?.shards ?? []).length === 0 ? (
          <EmptyState title="No shard answered">Health could not be read; the server may be starting or shutting down.</EmptyState>
        ) : (
          <DataGrid
            caption="Shard health"
            rows={health.data?.shards ?? []}
            rowKey={(s) => String(s.id)}
            columns={[
              { key: 'id', label: 'Shard', numeric: true },
              { key: 'state', label: 'State', render: (s) => <Badge tone={s.state === 'ready' && !s.storage_failed ? 'good' : 'bad'}>{s.storage_failed ? 'storage failed' : s.state}</Badge> },
              { key: 'keys', label: 'Keys', numeric: true, render: (s) => formatNumber(s.keys) },
              { key: 'ops', label: 'Ops/s', numeric: true, render: (s) => formatNumber(latest?.shards.find((x) => x.id === s.id)?.ops_per_s, 1) },
              { key: 'queue', label: 'Queue depth', numeric: true, render: (s) => formatNumber(latest?.shards.find((x) => x.id === s.id)?.queue_depth) },
              { key: 'fsync', label: 'fsync p99', numeric: true, render: (s) => {
                const v = latest?.shards.find((x) => x.id === s.id)?.fsync_p99_ms;
                return v === null || v === undefined ? '–' : ms(v);
              } },
              { key: 'tables', label: 'Table files', numeric: true, render: (s) => formatBytes(s.disk.table_bytes) },
              { key: 'wal', label: 'WAL', numeric: true, render: (s) => formatBytes(s.disk.wal_bytes) },
              { key: 'restarts', label: 'Restarts', numeric: true },
            ]}
          />
        )}
      </Panel>
    </>
  );
}

/** Appends snapshots in time order (duplicates by ts dropped) and keeps the window. */
export function merge(a: readonly Snapshot[], b: readonly Snapshot[], minutes: number): Snapshot[] {
  const all = [...a, ...b].sort((x, y) => x.ts - y.ts);
  const out: Snapshot[] = [];
  for (const s of all) if (out.length === 0 || s.ts > out[out.length - 1].ts) out.push(s);
  const since = (out.at(-1)?.ts ?? 0) - minutes * 60_000;
  return out.filter((s) => s.ts >= since);
}

function chartData(points: readonly Snapshot[]) {
  const xs = points.map((p) => p.ts / 1000);
  const col = (f: (p: Snapshot) => number | null): (number | null)[] => points.map(f);
  const shardIds = [...new Set(points.flatMap((p) => p.shards.map((s) => s.id)))].sort((a, b) => a - b);
  const shardSeries: ChartSeries[] = shardIds.map((id, i) => ({ label: `shard ${id}`, color: PALETTE[i % PALETTE.length], format: perS }));
  const mib = (v: number) => v / 1048576;
  return {
    throughput: [xs, col((p) => p.requests_per_s), col((p) => p.by_class.read?.requests_per_s ?? null), col((p) => p.by_class.write?.requests_per_s ?? null), col((p) => p.errors_per_s)] as AlignedData,
    latency: [xs, col((p) => p.latency_p50_ms), col((p) => p.latency_p95_ms), col((p) => p.latency_p99_ms)] as AlignedData,
    cache: [xs, col((p) => (p.cache_hit_rate === null ? null : p.cache_hit_rate * 100))] as AlignedData,
    shards: [xs, ...shardIds.map((id) => col((p) => p.shards.find((s) => s.id === id)?.ops_per_s ?? null))] as AlignedData,
    shardSeries,
    memory: [xs, col((p) => mib(p.memory_rss_bytes)), col((p) => mib(p.memory_heap_used_bytes))] as AlignedData,
    wal: [xs, col((p) => p.wal_bytes_per_s / 1024)] as AlignedData,
  };
}
