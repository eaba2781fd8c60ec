// A commit's answer must say what happened: a one-shard commit whose shard
// thread dies under it is answered committed or not committed from what the
// restarted shard replayed (never "aborted" for a transaction whose write is
// there), and a rollback racing a commit never claims to have rolled back a
// committed transaction.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectOk, keyPath } from '../helpers/http-client.js';

const CRASH_KEY = 'txn-answers-crash';
const slots = buildSlotMap(2);
const onShard = (shard: number, base: string): string => {
  for (let i = 0; ; i++) if (shardOfKey(slots, new TextEncoder().encode(`${base}-${i}`)) === shard) return `${base}-${i}`;
};
let server: ServerProcess;

beforeAll(async () => {
  server = await startServer({ shards: 2, fsync: 'batch', env: { MANTIS_FAULT_SHARD_CRASH_KEY: CRASH_KEY } });
});
afterAll(cleanup);

type Answer = { status: number; code: string | null };
const post = async (path: string, body?: unknown): Promise<{ status: number; json: { data?: { id?: string }; error?: { code: string } } | null }> => {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : (JSON.parse(text) as { data?: { id?: string }; error?: { code: string } }) };
};

describe('commit answers', () => {
  it('one-shard commits racing shard-thread crashes: answered committed ⇔ written', async () => {
    expect(shardOfKey(slots, new TextEncoder().encode(CRASH_KEY))).toBeGreaterThanOrEqual(0);
    const crashShard = shardOfKey(slots, new TextEncoder().encode(CRASH_KEY));
    let stop = false;
    let n = 0;
    const outcomes: { key: string; answer: Answer }[] = [];
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const key = onShard(crashShard, `amb/${w}/${n++}`);
        const begun = await post('/api/v1/txn', { isolation: 'snapshot' }).catch(() => null);
        if (begun === null || begun.status !== 200) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          continue;
        }
        const id = begun.json?.data?.id as string;
        const put = await fetch(`${server.url}/api/v1/kv/${keyPath(key)}`, { method: 'PUT', body: 'v', headers: { 'Mantis-Txn': id } }).catch(() => null);
        if (put === null || put.status !== 200) continue;
        const commit = await post(`/api/v1/txn/${id}/commit`).catch(() => null);
        if (commit === null) continue;
        outcomes.push({ key, answer: { status: commit.status, code: commit.json?.error?.code ?? null } });
      }
    };
    const workers = Array.from({ length: 12 }, (_, w) => worker(w));
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * 250));
      await fetch(`${server.url}/api/v1/kv/${CRASH_KEY}`).catch(() => undefined); // the shard thread dies on this key
    }
    stop = true;
    await Promise.all(workers);
    // Wait for the shard to be back, then check every answered commit against the data.
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${server.url}/health/ready`)).status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const counts: Record<string, number> = {};
    const wrong: string[] = [];
    for (const { key, answer } of outcomes) {
      const label = answer.status === 200 ? 'committed' : String(answer.code);
      counts[label] = (counts[label] ?? 0) + 1;
      if (answer.code === 'TXN_OUTCOME_UNKNOWN') continue;
      const stored = (await fetch(`${server.url}/api/v1/kv/${keyPath(key)}`)).status === 200;
      if (stored !== (answer.status === 200)) wrong.push(`${key}: commit answered ${answer.status} ${answer.code ?? ''}, key ${stored ? 'written' : 'absent'}`);
    }
    console.log('one-shard commits racing shard crashes:', counts);
    expect(wrong).toEqual([]);
    expect(counts.committed ?? 0).toBeGreaterThan(0);
    expect(outcomes.length - (counts.committed ?? 0)).toBeGreaterThan(0); // the crashes did hit commits
  });

  it('a rollback racing a commit: either the commit or the rollback wins, and the answers agree with the data', async () => {
    for (let round = 0; round < 10; round++) {
      const key = `race/${round}`;
      const id = (await post('/api/v1/txn')).json?.data?.id as string;
      await expectOk(await fetch(`${server.url}/api/v1/kv/${keyPath(key)}`, { method: 'PUT', body: 'v', headers: { 'Mantis-Txn': id } }));
      const [commit, rollback] = await Promise.all([post(`/api/v1/txn/${id}/commit`), post(`/api/v1/txn/${id}/rollback`)]);
      const stored = (await fetch(`${server.url}/api/v1/kv/${keyPath(key)}`)).status === 200;
      if (commit.status === 200) {
        expect(rollback.status).toBe(410);
        expect(rollback.json?.error?.code).toBe('TXN_EXPIRED');
        expect(stored).toBe(true);
      } else {
        expect(rollback.status).toBe(200);
        expect(commit.json?.error?.code).toBe('TXN_ABORTED');
        expect(stored).toBe(false);
      }
    }
  });
});
