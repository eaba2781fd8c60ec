// Fixtures for the disk-storage integration tests: values that are derived
// from (key, version) so every read is checkable and that do not compress (so
// the data on disk is as large as the data written), MessagePack batches,
// Prometheus text, the server's RSS, and what lies in a shard's directory
// (table files, WAL segments, the manifest's live tables).

import { createCipheriv, createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const ZEROS = Buffer.alloc(64 * 1024);

/** Value bytes of `key` at `version`: an AES-CTR keystream seeded by both, so incompressible and unique. */
export function valueOf(key: string, version: number, bytes: number): Buffer {
  const seed = createHash('sha256').update(`${key}\0${version}`).digest();
  const cipher = createCipheriv('aes-128-ctr', seed.subarray(0, 16), seed.subarray(16, 32));
  const parts: Buffer[] = [];
  for (let left = bytes; left > 0; left -= ZEROS.length) parts.push(cipher.update(ZEROS.subarray(0, Math.min(left, ZEROS.length))));
  return Buffer.concat(parts, bytes);
}

export type BatchOp =
  | { readonly op: 'put'; readonly key: string; readonly value: Uint8Array; readonly ttl?: number }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string };

export type BatchItem = {
  readonly op: string;
  readonly key: string;
  readonly ok?: boolean;
  readonly found?: boolean;
  readonly value?: Uint8Array;
  readonly content_type?: string;
  readonly deleted?: boolean;
  readonly error?: { readonly code: string; readonly message: string };
};

export type BatchAnswer = { readonly status: number; readonly items: readonly BatchItem[]; readonly errorCode: string | null; readonly text: string };

/** POST /api/v1/kv/batch in MessagePack (values travel as raw bytes). Rejects only on a network error. */
export async function postBatch(base: string, ops: readonly BatchOp[], signal?: AbortSignal): Promise<BatchAnswer> {
  const body = packr.pack({ ops: ops.map((o) => ({ ...o, value: o.op === 'put' ? Buffer.from(o.value) : undefined })) });
  const response = await fetch(`${base}/api/v1/kv/batch`, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body, signal });
  const raw = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type') ?? '';
  const parsed = (type.startsWith('application/msgpack') ? packr.unpack(raw) : JSON.parse(raw.toString('utf8'))) as {
    data?: BatchItem[];
    error?: { code: string };
  };
  const text = type.startsWith('application/msgpack') ? JSON.stringify(parsed).slice(0, 300) : raw.toString('utf8', 0, 300);
  return { status: response.status, items: parsed.data ?? [], errorCode: parsed.error?.code ?? null, text };
}

/** Gets keys through batches of at most 1000; returns what each key holds (undefined = absent). */
export async function batchGetAll(base: string, keys: readonly string[]): Promise<Map<string, Buffer | undefined>> {
  const out = new Map<string, Buffer | undefined>();
  for (let i = 0; i < keys.length; i += 1000) {
    const slice = keys.slice(i, i + 1000);
    const answer = await postBatch(base, slice.map((key) => ({ op: 'get', key })));
    if (answer.status !== 200) throw new Error(`batch get answered ${answer.status}: ${answer.text}`);
    answer.items.forEach((item, j) => {
      if (item.error !== undefined) throw new Error(`batch get of ${slice[j]}: ${item.error.code} ${item.error.message}`);
      out.set(slice[j], item.found === true ? Buffer.from(item.value as Uint8Array) : undefined);
    });
  }
  return out;
}

// ---- metrics ------------------------------------------------------------------

export type Metrics = { readonly text: string; value(name: string, labels?: Record<string, string>): number };

/** Scrapes /api/metrics/prometheus. value() sums every series of `name` whose labels include `labels`. */
export async function scrape(base: string): Promise<Metrics> {
  const text = await (await fetch(`${base}/api/metrics/prometheus`)).text();
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  return {
    text,
    value(name, labels = {}) {
      let sum = 0;
      for (const line of lines) {
        const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
        if (m === null || m[1] !== name) continue;
        const have = m[2] ?? '';
        if (!Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) continue;
        sum += Number(m[3]);
      }
      return sum;
    },
  };
}

export type ShardHealth = {
  readonly id: number;
  readonly storage_failed: boolean;
  readonly disk: { readonly table_bytes: number; readonly wal_bytes: number; readonly free_bytes: number };
  readonly replay: { readonly records: number; readonly bytes: number; readonly segments: number } | null;
};

/** GET /health/ready's per-shard detail (whatever the status). */
export async function readiness(base: string): Promise<{ status: number; shards: ShardHealth[] }> {
  const response = await fetch(`${base}/health/ready`);
  const body = (await response.json()) as { data: { shards: ShardHealth[] } };
  return { status: response.status, shards: body.data.shards };
}

// ---- the process and its files ------------------------------------------------------

/** Resident set size of a process in MiB (/proc/<pid>/status VmRSS), or 0 when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) / 1024;
  } catch {
    return 0;
  }
}

export const shardDir = (dataDir: string, shard: number): string => join(dataDir, 'shards', String(shard));
export const sstDir = (dataDir: string, shard: number): string => join(shardDir(dataDir, shard), 'sst');
export const walDir = (dataDir: string, shard: number): string => join(shardDir(dataDir, shard), 'wal');

function namesIn(dir: string, suffix: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n.endsWith(suffix)).sort();
  } catch {
    return [];
  }
}

export const sstFiles = (dataDir: string, shard: number): string[] => namesIn(sstDir(dataDir, shard), '.sst');
export const walFiles = (dataDir: string, shard: number): string[] => namesIn(walDir(dataDir, shard), '.wal');

export type ManifestTable = { readonly fileNumber: number; readonly fileBytes: number; readonly entries: number };
export type ManifestView = { readonly nextFileNumber: number; readonly flushedLsn: number; readonly levels: readonly ManifestTable[][] };

/**
 * The shard's MANIFEST, read as the store writes it ([8-byte magic][u32 length][u32 crc][JSON]),
 * or null when there is none yet. Tests read it to see levels and to tell live tables from orphans.
 */
export function readManifest(dataDir: string, shard: number): ManifestView | null {
  let buf: Buffer;
  try {
    buf = readFileSync(join(sstDir(dataDir, shard), 'MANIFEST'));
  } catch {
    return null;
  }
  const length = buf.readUInt32LE(8);
  const json = JSON.parse(buf.toString('utf8', 16, 16 + length)) as ManifestView;
  return { nextFileNumber: json.nextFileNumber, flushedLsn: json.flushedLsn, levels: json.levels };
}

export const tableFileName = (fileNumber: number): string => `${String(fileNumber).padStart(12, '0')}.sst`;

/** Table files on disk that the manifest does not name. */
export function orphanTables(dataDir: string, shard: number): string[] {
  const live = new Set((readManifest(dataDir, shard)?.levels ?? []).flat().map((t) => tableFileName(t.fileNumber)));
  return sstFiles(dataDir, shard).filter((n) => !live.has(n));
}
