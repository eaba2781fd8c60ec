// One key's versions in the version store: its latest commit timestamp (the
// LSM holds that value) and the older versions ascending. Version i is visible
// to snapshots in [ts(i), next(i)), next(i) = ts(i+1), or latestTs for the
// last one. ts 0 = "before the store knew the key" (predates every snapshot
// that can still read). Entries are stored as given; undefined = absent.

import type { Entry } from '../store/memtable.js';

const RECORD_OVERHEAD_BYTES = 160;
const VERSION_OVERHEAD_BYTES = 16;
const ENTRY_OVERHEAD_BYTES = 96;

/** Approximate bytes one older version holds. */
export function versionBytes(entry: Entry | undefined): number {
  return VERSION_OVERHEAD_BYTES + (entry === undefined ? 0 : ENTRY_OVERHEAD_BYTES + entry.value.length + entry.contentType.length);
}

export class VersionChain {
  private readonly vts: number[] = [];
  private readonly ventries: (Entry | undefined)[] = [];
  /** Approximate bytes held by this key (record and older versions). */
  bytes: number;

  constructor(readonly key: string, public latestTs: number) {
    this.bytes = RECORD_OVERHEAD_BYTES + key.length;
  }

  get length(): number {
    return this.vts.length;
  }

  /** A new latest at commitTs: the previous latest (entry) becomes the newest older version. Returns the bytes added. */
  supersede(commitTs: number, previous: Entry | undefined, previousTs: number): number {
    this.vts.push(previousTs);
    this.ventries.push(previous);
    this.latestTs = commitTs;
    const added = versionBytes(previous);
    this.bytes += added;
    return added;
  }

  /**
   * The newest older version with ts <= snapshotTs, or `missing` when every
   * older version is newer (it was collected). REQUIRES latestTs > snapshotTs.
   */
  at<M>(snapshotTs: number, missing: M): Entry | undefined | M {
    const vts = this.vts;
    let lo = 0;
    let hi = vts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (vts[mid] <= snapshotTs) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? missing : this.ventries[lo - 1];
  }

  /** Drops the older versions no snapshot >= horizon can see (next(i) <= horizon). Returns [versions, bytes] dropped. */
  trim(horizon: number): [number, number] {
    const { vts, ventries } = this;
    const n = vts.length;
    let drop = 0;
    while (drop < n && (drop + 1 < n ? vts[drop + 1] : this.latestTs) <= horizon) drop++;
    if (drop === 0) return [0, 0];
    let freed = 0;
    for (let i = 0; i < drop; i++) freed += versionBytes(ventries[i]);
    vts.splice(0, drop);
    ventries.splice(0, drop);
    this.bytes -= freed;
    return [drop, freed];
  }

  versions(): { ts: number; entry: Entry | undefined }[] {
    return this.vts.map((ts, i) => ({ ts, entry: this.ventries[i] }));
  }

  /** Invariants, for tests: ascending timestamps below latestTs, exact bytes. */
  check(): void {
    let b = RECORD_OVERHEAD_BYTES + this.key.length;
    for (let i = 0; i < this.vts.length; i++) {
      b += versionBytes(this.ventries[i]);
      if ((i + 1 < this.vts.length ? this.vts[i + 1] : this.latestTs) <= this.vts[i]) throw new Error('VersionChain: not ascending');
    }
    if (b !== this.bytes) throw new Error('VersionChain: bytes drifted');
  }
}
