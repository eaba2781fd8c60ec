// The transaction manager as the document store needs it: document changes
// made inside a transaction (Mantis-Txn) are held here until that
// transaction commits, then published to the change streams; a rollback
// drops them. The internal keys a transaction touches get readable names, so
// a conflict on one is reported as the document or unique value it is (a
// unique value another transaction committed first: 409 DUPLICATE_KEY), not
// as raw key bytes. Transactions that end otherwise (expired, aborted at
// commit, too old) leave entries that are swept once they are older than the
// maximum transaction age.

import { MantisError } from '../../shared/errors.js';
import type { DocChange } from '../../shared/docs/doc-protocol.js';
import { TxnManager, type CommitResult, type TxnManagerOptions } from '../txn/txn-manager.js';

const SWEEP_INTERVAL_MS = 10_000;

type Pending = { readonly changes: DocChange[]; readonly sinceMs: number };

/**
 * What an internal key stands for: text for messages; for a global unique entry the transaction
 * takes, the error a lost race on it means, the owner it writes and what it saw there (a stale
 * entry it takes over, or null).
 */
export type KeyName = { readonly text: string; readonly duplicate: MantisError | null; readonly owner?: Uint8Array; readonly seen?: Uint8Array | null };

/** The form the TxnManager's conflict errors show a key in (details.key). */
export const printableKey = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');

/** A conflict error about `printable` rewritten with its name (reason "write" on a unique value: DUPLICATE_KEY). */
export function namedConflict(error: MantisError, printable: string, name: KeyName): MantisError {
  if (error.details?.reason === 'write' && name.duplicate !== null) return name.duplicate;
  const message = error.message.replace(`key "${printable}"`, name.text);
  return new MantisError(error.code, message, { ...error.details, key: name.text });
}

export class DocTxnManager extends TxnManager {
  private readonly pending = new Map<string, Pending>();
  private readonly keyNames = new Map<string, { readonly names: Map<string, KeyName>; readonly claims: Map<string, { key: Uint8Array; name: KeyName }>; readonly sinceMs: number }>();
  private readonly sweeper: NodeJS.Timeout;
  /** Where committed changes go (the change hub); set by the document service. */
  onCommittedChanges: ((changes: readonly DocChange[]) => void) | null = null;

  constructor(private readonly options: TxnManagerOptions) {
    super(options);
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  /** Changes a document operation made inside transaction `id` (published when it commits). */
  recordChanges(id: string, changes: readonly DocChange[]): void {
    if (changes.length === 0) return;
    const held = this.pending.get(id);
    if (held === undefined) this.pending.set(id, { changes: [...changes], sinceMs: Date.now() });
    else held.changes.push(...changes);
  }

  /** Names an internal key transaction `id` reads or writes (for readable conflict errors). */
  nameKey(id: string, key: Uint8Array, name: KeyName): void {
    let held = this.keyNames.get(id);
    if (held === undefined) this.keyNames.set(id, (held = { names: new Map(), claims: new Map(), sinceMs: Date.now() }));
    held.names.set(printableKey(key), name);
    if (name.owner !== undefined) held.claims.set(Buffer.from(key).toString('latin1'), { key, name });
  }

  /** The error with a named key's bytes replaced by its name; anything else as it is. */
  readable(id: string, error: unknown): unknown {
    if (!(error instanceof MantisError)) return error;
    const printable = error.details?.key === undefined ? undefined : String(error.details.key);
    const name = printable === undefined ? undefined : this.keyNames.get(id)?.names.get(printable);
    return name === undefined || printable === undefined ? error : namedConflict(error, printable, name);
  }

  override async commit(id: string): Promise<CommitResult> {
    try {
      const result = await super.commit(id);
      const held = this.pending.get(id);
      if (held !== undefined) this.onCommittedChanges?.(held.changes);
      return result;
    } catch (error) {
      throw (await this.lostUniqueRace(id, error)) ?? this.readable(id, error);
    } finally {
      this.forget(id);
    }
  }

  /**
   * A refused commit that took a unique value another document now holds (committed by a racing
   * transaction): DUPLICATE_KEY for that value, whatever key the refusal named. Null otherwise.
   */
  private async lostUniqueRace(id: string, error: unknown): Promise<MantisError | null> {
    const claims = this.keyNames.get(id)?.claims;
    if (!(error instanceof MantisError) || error.code !== 'TXN_CONFLICT' || claims === undefined || claims.size === 0) return null;
    const held = await Promise.all([...claims.values()].map(({ key }) => this.plainGet(key).catch(() => null)));
    const differs = (a: Uint8Array, b: Uint8Array | null | undefined): boolean => b === null || b === undefined || Buffer.compare(a, b) !== 0;
    // Lost: someone else's entry is there now (neither ours nor the stale one this transaction saw).
    const lost = [...claims.values()].find(({ name }, i) => held[i] !== null && differs(held[i] as Uint8Array, name.owner) && differs(held[i] as Uint8Array, name.seen));
    return lost?.name.duplicate ?? null;
  }

  private async plainGet(key: Uint8Array): Promise<Uint8Array | null> {
    const response = await this.options.pool.shardFor(key).call({ kind: 'get', key });
    return response.kind === 'value' ? response.value : null;
  }

  override async rollback(id: string): Promise<void> {
    try {
      await super.rollback(id);
    } finally {
      this.forget(id);
    }
  }

  private forget(id: string): void {
    this.pending.delete(id);
    this.keyNames.delete(id);
  }

  override close(): void {
    clearInterval(this.sweeper);
    super.close();
  }

  private sweep(): void {
    const limit = Date.now() - this.options.maxAgeMs - SWEEP_INTERVAL_MS;
    for (const [id, held] of this.pending) if (held.sinceMs < limit) this.pending.delete(id);
    for (const [id, held] of this.keyNames) if (held.sinceMs < limit) this.keyNames.delete(id);
  }
}
