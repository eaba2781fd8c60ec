// Counts the writes in flight per table and catalog version, so a unique
// index build can wait for the writes that started before the index was in
// the catalog (they claim no values for it) before it claims the values of
// the rows already stored: after that, every row either was there to be
// claimed or claimed its value itself.

export class TableWriteGate {
  /** table id → catalog version → writes in flight. */
  private readonly inFlight = new Map<number, Map<number, number>>();
  private readonly waiters = new Map<number, (() => void)[]>();

  /** Counts a write under this table id and catalog version; call the result when it is answered. */
  enter(tableId: number, version: number): () => void {
    let versions = this.inFlight.get(tableId);
    if (versions === undefined) this.inFlight.set(tableId, (versions = new Map()));
    versions.set(version, (versions.get(version) ?? 0) + 1);
    const held = versions;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (held.get(version) ?? 1) - 1;
      if (left > 0) held.set(version, left);
      else held.delete(version);
      if (held.size === 0 && this.inFlight.get(tableId) === held) this.inFlight.delete(tableId);
      this.wake(tableId);
    };
  }

  /** Resolves once no write that started under a catalog version below `version` is in flight. */
  drained(tableId: number, version: number): Promise<void> {
    if (!this.olderInFlight(tableId, version)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.olderInFlight(tableId, version)) this.wait(tableId, check);
        else resolve();
      };
      this.wait(tableId, check);
    });
  }

  private olderInFlight(tableId: number, version: number): boolean {
    const versions = this.inFlight.get(tableId);
    if (versions === undefined) return false;
    for (const v of versions.keys()) if (v < version) return true;
    return false;
  }

  private wait(tableId: number, wake: () => void): void {
    let list = this.waiters.get(tableId);
    if (list === undefined) this.waiters.set(tableId, (list = []));
    list.push(wake);
  }

  private wake(tableId: number): void {
    const list = this.waiters.get(tableId);
    if (list === undefined) return;
    this.waiters.delete(tableId);
    for (const wake of list) wake();
  }
}
