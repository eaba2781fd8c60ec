// The audit log: logins and their failures, key/user/role/policy changes,
// config changes and admin actions, as JSON lines in <data>/audit/audit.log.
// Appends are asynchronous and ordered (one write queue); the file rotates at
// a size limit into audit.log.1 … audit.log.<keep> (oldest dropped). Entries
// never carry secrets: callers pass names and ids, never passwords, keys or
// tokens. Read back (newest first) by GET /api/v1/admin/audit.

import { appendFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';

export type AuditEntry = {
  readonly ts: string;
  readonly action: string;
  readonly outcome: 'success' | 'failure';
  /** Who did it: "user:alice", "key:abc", "sub:…", "anonymous", "system". */
  readonly actor: string;
  readonly ip?: string;
  readonly target?: string;
  readonly details?: Readonly<Record<string, unknown>>;
};

export type AuditOptions = { readonly dataDir: string; readonly log: Logger; readonly maxBytes?: number; readonly keep?: number };

export class AuditLog {
  private queue: Promise<void> = Promise.resolve();
  private size = -1;
  private readonly dir: string;
  private readonly file: string;
  private readonly maxBytes: number;
  private readonly keep: number;

  constructor(private readonly options: AuditOptions) {
    this.dir = join(options.dataDir, 'audit');
    this.file = join(this.dir, 'audit.log');
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.keep = options.keep ?? 5;
  }

  record(entry: Omit<AuditEntry, 'ts'>): void {
    const line = JSON.stringify({ ts: new Date().toISOString(), ...entry }) + '\n';
    this.queue = this.queue.then(() => this.append(line)).catch((error: unknown) => this.options.log.error({ err: error }, 'the audit log could not be written'));
  }

  /** Resolves when everything recorded so far is written. */
  flushed(): Promise<void> {
    return this.queue;
  }

  private async append(line: string): Promise<void> {
    if (this.size < 0) {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      this.size = await stat(this.file).then((s) => s.size, () => 0);
    }
    if (this.size > 0 && this.size + line.length > this.maxBytes) await this.rotate();
    await appendFile(this.file, line, { mode: 0o600 });
    this.size += Buffer.byteLength(line);
  }

  private async rotate(): Promise<void> {
    await rm(`${this.file}.${this.keep}`, { force: true });
    for (let i = this.keep - 1; i >= 1; i--) {
      await rename(`${this.file}.${i}`, `${this.file}.${i + 1}`).catch(() => undefined);
    }
    await rename(this.file, `${this.file}.1`);
    this.size = 0;
  }

  /** Newest first, up to limit, optionally of one action (prefix) or actor. */
  async read(query: { limit: number; action?: string; actor?: string }): Promise<AuditEntry[]> {
    await this.queue;
    const out: AuditEntry[] = [];
    for (let i = 0; i <= this.keep && out.length < query.limit; i++) {
      const path = i === 0 ? this.file : `${this.file}.${i}`;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        continue;
      }
      const lines = text.split('\n');
      for (let j = lines.length - 1; j >= 0 && out.length < query.limit; j--) {
        if (lines[j] === '') continue;
        let entry: AuditEntry;
        try {
          entry = JSON.parse(lines[j]) as AuditEntry;
        } catch {
          continue; // a torn last line after a crash
        }
        if (query.action !== undefined && !entry.action.startsWith(query.action)) continue;
        if (query.actor !== undefined && entry.actor !== query.actor) continue;
        out.push(entry);
      }
    }
    return out;
  }
}
