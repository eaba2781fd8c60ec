// Write intents (two-phase commit, prepare): which transaction holds which key
// between its prepare and its commit or abort. A key has at most one holder;
// locking is all-or-nothing. Keys are binary strings.

/** The same id the router, the coordinator log, the ring and the WAL use (shared/txn/txn-wire.ts). */
export type TxnId = string;

/** A key held by another transaction. */
export type IntentConflict = { readonly key: string; readonly txnId: TxnId };

const INTENT_OVERHEAD_BYTES = 64;

export class WriteIntents {
  private readonly holders = new Map<string, TxnId>();
  private readonly byTxn = new Map<TxnId, string[]>();
  /** Approximate bytes held. */
  bytes = 0;

  /** Number of keys locked. */
  get size(): number {
    return this.holders.size;
  }

  /**
   * Locks every key for txnId, or none: returns the first key (in the given
   * order) held by another transaction. Keys txnId already holds are fine.
   */
  lock(txnId: TxnId, keys: Iterable<string>): IntentConflict | null {
    const list = Array.isArray(keys) ? (keys as string[]) : [...keys];
    for (const key of list) {
      const holder = this.holders.get(key);
      if (holder !== undefined && holder !== txnId) return { key, txnId: holder };
    }
    let mine = this.byTxn.get(txnId);
    for (const key of list) {
      if (this.holders.has(key)) continue;
      if (mine === undefined) {
        mine = [];
        this.byTxn.set(txnId, mine);
      }
      this.holders.set(key, txnId);
      mine.push(key);
      this.bytes += INTENT_OVERHEAD_BYTES + key.length;
    }
    return null;
  }

  /** Releases every key txnId holds; returns how many. */
  unlock(txnId: TxnId): number {
    const mine = this.byTxn.get(txnId);
    if (mine === undefined) return 0;
    this.byTxn.delete(txnId);
    for (const key of mine) {
      this.holders.delete(key);
      this.bytes -= INTENT_OVERHEAD_BYTES + key.length;
    }
    return mine.length;
  }

  holder(key: string): TxnId | undefined {
    return this.holders.get(key);
  }

  /** The keys txnId holds, in locking order. */
  keysOf(txnId: TxnId): readonly string[] {
    return this.byTxn.get(txnId) ?? [];
  }

  /** The first of keys held by a transaction other than txnId (any holder when txnId is undefined). */
  firstForeign(keys: Iterable<string>, txnId?: TxnId): IntentConflict | null {
    for (const key of keys) {
      const holder = this.holders.get(key);
      if (holder !== undefined && holder !== txnId) return { key, txnId: holder };
    }
    return null;
  }

  /** Every (key, holder), in locking order. O(intents): prepared transactions are few and short. */
  entries(): IterableIterator<[string, TxnId]> {
    return this.holders.entries();
  }
}
