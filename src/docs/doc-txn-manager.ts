// The transaction manager as the document store needs it: document changes
// made inside a transaction (Mantis-Txn) are held here until that
// transaction commits, then published to the change streams; a rollback
// drops them. Transactions that end otherwise (expired, aborted at commit,
// too old) leave entries that are swept once they are older than the
// maximum transaction age.

import type { DocChange } from '../../shared/docs/doc-protocol.js';
import { TxnManager, type CommitResult, type TxnManagerOptions } from '../txn/txn-manager.js';

const SWEEP_INTERVAL_MS = 10_000;

type Pending = { readonly changes: DocChange[]; readonly sinceMs: number };

export class DocTxnManager extends TxnManager {
  private readonly pending = new Map<string, Pending>();
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

  override async commit(id: string): Promise<CommitResult> {
    try {
      const result = await super.commit(id);
      const held = this.pending.get(id);
      if (held !== undefined) this.onCommittedChanges?.(held.changes);
      return result;
    } finally {
      this.pending.delete(id);
    }
  }

  override async rollback(id: string): Promise<void> {
    try {
      await super.rollback(id);
    } finally {
      this.pending.delete(id);
    }
  }

  override close(): void {
    clearInterval(this.sweeper);
    super.close();
  }

  private sweep(): void {
    const limit = Date.now() - this.options.maxAgeMs - SWEEP_INTERVAL_MS;
    for (const [id, held] of this.pending) if (held.sinceMs < limit) this.pending.delete(id);
  }
}
