// Helpers for the backup / restore / point-in-time-recovery integration tests
// (test/ops/backup-*.test.ts): the backup routes answered as the envelope's
// data, the restore CLI run as a child process, the few model routes the
// tests write through (KV, documents, tables, SQL, transactions, cache
// policies and dependencies), keys placed on chosen shards, a byte flipped in
// a file, and a tar stream parsed (ustar headers checked by hand, entries read
// with tar-stream).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { extract } from 'tar-stream';
import { expect } from 'vitest';
import { buildSlotMap, shardOfKey } from '../../shared/slot.js';
import { ROOT } from '../helpers/child-process.js';
import { expectOk, keyPath, parseEnvelope } from '../helpers/http-client.js';

export const MAIN = join(ROOT, 'dist', 'src', 'main.js');
export const sleep = (ms: number): Promise<void> => delay(ms);

// ---------------------------------------------------------------- backups

export type BackupSummary = {
  readonly id: string;
  readonly path: string;
  readonly commit_ts: number;
  readonly created_at: string;
  readonly incremental: boolean;
  readonly base: string | null;
  readonly files: number;
  readonly bytes: number;
  readonly copied_bytes: number;
  readonly duration_ms?: number;
};
export type FileEntry = { readonly path: string; readonly bytes: number; readonly sha256: string; readonly reused?: boolean };
export type BackupDetail = BackupSummary & {
  readonly cut_ms: number;
  readonly shards: number;
  readonly cuts: { shard: number; walSegment: number; walOffset: number; lsn: number }[];
  readonly file_list: FileEntry[];
};
export type VerifyData = { readonly id: string; readonly ok: boolean; readonly problems: { file: string; problem: string }[] };

export function postBackup(base: string, body: unknown = { incremental: false }): Promise<Response> {
  return fetch(`${base}/api/v1/backups`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export async function takeBackup(base: string, incremental = false): Promise<BackupSummary> {
  return (await expectOk<BackupSummary>(await postBackup(base, { incremental }), 201)).data;
}

export async function listBackups(base: string): Promise<BackupSummary[]> {
  return (await expectOk<BackupSummary[]>(await fetch(`${base}/api/v1/backups`))).data;
}

export async function backupDetail(base: string, id: string): Promise<BackupDetail> {
  return (await expectOk<BackupDetail>(await fetch(`${base}/api/v1/backups/${encodeURIComponent(id)}`))).data;
}

export async function verify(base: string, id: string): Promise<VerifyData> {
  return (await expectOk<VerifyData>(await fetch(`${base}/api/v1/backups/${encodeURIComponent(id)}/verify`, { method: 'POST' }))).data;
}

/** Names in a directory ([] when it does not exist). */
export function namesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

// ---------------------------------------------------------------- restore CLI

export type CliRun = { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stdout: string; readonly stderr: string };

/** `node dist/src/main.js restore <args>`; resolves with its exit and output (60 s at most). */
export function runRestore(args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith('MANTIS_')) delete env[name];
    const child = spawn(process.execPath, [MAIN, 'restore', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`restore ${args.join(' ')} did not finish in 60 s\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the restore CLI and asserts exit 0. */
export async function restoreOk(args: readonly string[]): Promise<CliRun> {
  const run = await runRestore(args);
  expect({ code: run.code, stderr: run.stderr }, `restore ${args.join(' ')}\n${run.stdout}`).toEqual({ code: 0, stderr: '' });
  return run;
}

// ---------------------------------------------------------------- model routes

const JSON_HEADERS = { 'content-type': 'application/json' };

export function sendJson(url: string, method: string, body: unknown): Promise<Response> {
  return fetch(url, { method, headers: JSON_HEADERS, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** The status and parsed envelope of a JSON answer. */
export async function answer<T>(response: Response): Promise<{ status: number; ok: boolean; data: T | undefined; code: string | undefined; text: string }> {
  const text = await response.text();
  let env;
  try {
    env = parseEnvelope<T>(text);
  } catch {
    return { status: response.status, ok: false, data: undefined, code: undefined, text };
  }
  return { status: response.status, ok: env.success, data: env.success ? env.data : undefined, code: env.success ? undefined : env.error.code, text };
}

export async function kvGet(base: string, key: string): Promise<string | null> {
  const response = await fetch(`${base}/api/v1/kv/${keyPath(key)}`);
  const text = await response.text();
  if (response.status === 404) return null;
  expect(response.status, `GET ${key}: ${text.slice(0, 300)}`).toBe(200);
  return text;
}

export function kvPut(base: string, key: string, value: string | Uint8Array): Promise<Response> {
  return fetch(`${base}/api/v1/kv/${keyPath(key)}`, { method: 'PUT', body: value, headers: { 'content-type': 'text/plain' } });
}

export async function kvPutOk(base: string, key: string, value: string | Uint8Array): Promise<void> {
  await expectOk(await kvPut(base, key, value));
}

export async function kvDeleteOk(base: string, key: string): Promise<void> {
  await expectOk(await fetch(`${base}/api/v1/kv/${keyPath(key)}`, { method: 'DELETE' }));
}

export type SqlData = { command: string; columns: { name: string; type: string }[]; rows: unknown[][]; row_count: number };

export async function sql(base: string, query: string, params?: unknown[]): Promise<SqlData> {
  const response = await sendJson(`${base}/api/v1/sql`, 'POST', params === undefined ? { query } : { query, params });
  return (await expectOk<SqlData>(response)).data;
}

export function execute(base: string, body: unknown): Promise<Response> {
  return sendJson(`${base}/api/v1/txn/execute`, 'POST', body);
}

export type ExecGet = { op: 'get'; key: string; found: boolean; value?: string };

export function docsPost(base: string, coll: string, action: string, body: unknown): Promise<Response> {
  return sendJson(`${base}/api/v1/docs/${encodeURIComponent(coll)}/${action}`, 'POST', body);
}

export async function findAllDocs(base: string, coll: string, filter: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const response = await docsPost(base, coll, 'find', cursor === null ? { filter, limit: 1000 } : { filter, limit: 1000, cursor });
    const env = await expectOk<Record<string, unknown>[]>(response);
    out.push(...env.data);
    const next = (env.meta as { next_cursor?: string | null }).next_cursor;
    if (next === undefined || next === null) return out;
    cursor = next;
  }
  throw new Error('find does not end');
}

export async function putPolicies(base: string, policies: unknown[]): Promise<Response> {
  return sendJson(`${base}/api/v1/cache/policies`, 'PUT', { policies });
}

export async function getPolicies(base: string): Promise<{ policies: { prefix: string; policy: string }[]; source: string }> {
  return (await expectOk<{ policies: { prefix: string; policy: string }[]; source: string }>(await fetch(`${base}/api/v1/cache/policies`))).data;
}

export async function childrenOf(base: string, parent: string): Promise<string[]> {
  return (await expectOk<{ children: string[] }>(await fetch(`${base}/api/v1/cache/dependencies?parent=${encodeURIComponent(parent)}`))).data.children;
}

// ---------------------------------------------------------------- placement

/** `count` keys under `prefix` that the slot map puts on `shard` (of `shards`). */
export function keysOnShard(prefix: string, shards: number, shard: number, count: number): string[] {
  const slots = buildSlotMap(shards);
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const key = `${prefix}${i}`;
    if (shardOfKey(slots, new TextEncoder().encode(key)) === shard) out.push(key);
  }
  return out;
}

// ---------------------------------------------------------------- files

/** XORs one byte of a file (in place) and returns what it was. */
export function flipByte(path: string, offset: number): number {
  const buf = readFileSync(path);
  if (offset >= buf.length) throw new Error(`${path} has ${buf.length} bytes, cannot flip byte ${offset}`);
  const was = buf[offset];
  buf[offset] = was ^ 0xff;
  writeFileSync(path, buf);
  return was;
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

// ---------------------------------------------------------------- tar

export type TarEntry = { readonly name: string; readonly size: number; readonly type: string; readonly body: Buffer };

/**
 * Parses a tar archive: checks every 512-byte ustar header by hand (magic, checksum, octal size,
 * the data padded to 512) and the two zero blocks at the end, then reads the entries again with
 * tar-stream's extract and checks both agree. Returns the entries.
 */
export async function parseTar(tar: Buffer): Promise<TarEntry[]> {
  expect(tar.length % 512, 'a tar stream is whole 512-byte blocks').toBe(0);
  const manual: { name: string; size: number }[] = [];
  let at = 0;
  let sawEnd = false;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) {
      expect(tar.subarray(at + 512, at + 1024).every((b) => b === 0), 'two zero blocks end the archive').toBe(true);
      sawEnd = true;
      break;
    }
    const field = (from: number, len: number): string => header.subarray(from, from + len).toString('latin1').replace(/\0.*$/s, '');
    const magic = header.subarray(257, 263).toString('latin1');
    expect(magic.startsWith('ustar'), `ustar magic at offset ${at}: ${JSON.stringify(magic)}`).toBe(true);
    const stored = parseInt(field(148, 8).trim(), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
    expect(sum, `header checksum at offset ${at}`).toBe(stored);
    const prefix = field(345, 155);
    const name = prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`;
    const size = parseInt(field(124, 12).trim() || '0', 8);
    manual.push({ name, size });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  expect(sawEnd, 'the archive ends with zero blocks').toBe(true);
  const entries: TarEntry[] = [];
  const x = extract();
  const done = (async () => {
    for await (const entry of x) {
      const parts: Buffer[] = [];
      for await (const chunk of entry) parts.push(chunk as Buffer);
      entries.push({ name: entry.header.name, size: entry.header.size ?? 0, type: entry.header.type ?? 'file', body: Buffer.concat(parts) });
    }
  })();
  Readable.from([tar]).pipe(x);
  await done;
  expect(entries.map((e) => ({ name: e.name, size: e.size }))).toEqual(manual);
  for (const e of entries) expect(e.body.length, e.name).toBe(e.size);
  return entries;
}
