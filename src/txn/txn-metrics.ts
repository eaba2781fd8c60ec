// Prometheus metrics of the router's transactions (the shards' own figures —
// version store, intents, conflicts seen — are per-shard slots in metrics.ts).

import client from 'prom-client';

export type TxnMetrics = {
  readonly begun: client.Counter;
  readonly commits: client.Counter<'path'>;
  readonly aborts: client.Counter<'reason'>;
  readonly active: client.Gauge;
  readonly commitSeconds: client.Histogram<'path'>;
};

export function createTxnMetrics(registry: client.Registry): TxnMetrics {
  return {
    begun: new client.Counter({ name: 'mantis_txn_begun_total', help: 'Transactions begun (execute requests included)', registers: [registry] }),
    commits: new client.Counter({
      name: 'mantis_txn_commits_total',
      help: 'Transactions committed, by path: read_only, one_shard (one message) or two_phase',
      labelNames: ['path'],
      registers: [registry],
    }),
    aborts: new client.Counter({
      name: 'mantis_txn_aborts_total',
      help: 'Transactions ended without a commit, by reason (write/read/range/locked/condition conflicts, rollback, expired, snapshot_too_old, …)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    active: new client.Gauge({ name: 'mantis_txn_active', help: 'Open transactions', registers: [registry] }),
    commitSeconds: new client.Histogram({
      name: 'mantis_txn_commit_seconds',
      help: 'Commit latency on the router, by path',
      labelNames: ['path'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
