// Memory accounting for the blocking aggregation stages ($group, $sort,
// $bucket, $facet, $sortByCount). Sizes are estimates of the JS heap a value
// holds (V8 object headers, UTF-16 strings), cheap enough to run per document;
// they only have to be proportional and on the safe side, not exact.

import { MantisError } from '../errors.js';
import type { DocValue } from './doc-types.js';

const HEADER_BYTES = 16;
const SLOT_BYTES = 8;

/** Estimated heap bytes of a value (recursive). */
export function estimateBytes(v: DocValue | undefined): number {
  switch (typeof v) {
    case 'undefined':
    case 'boolean':
    case 'number':
      return SLOT_BYTES;
    case 'bigint':
      return HEADER_BYTES + SLOT_BYTES;
    case 'string':
      return HEADER_BYTES + v.length * 2;
    case 'object':
      return objectBytes(v);
    default:
      return SLOT_BYTES;
  }
}

function objectBytes(v: object | null): number {
  if (v === null) return SLOT_BYTES;
  if (Array.isArray(v)) {
    let n = HEADER_BYTES + v.length * SLOT_BYTES;
    for (const e of v as DocValue[]) n += estimateBytes(e);
    return n;
  }
  if (v instanceof Date) return HEADER_BYTES + SLOT_BYTES;
  if ((v as { _bsontype?: string })._bsontype !== undefined) return HEADER_BYTES * 2 + 16;
  let n = HEADER_BYTES;
  for (const [k, e] of Object.entries(v as Record<string, DocValue>)) n += SLOT_BYTES + k.length * 2 + estimateBytes(e);
  return n;
}

/**
 * A byte budget one blocking stage draws from. `grow` returns false when the
 * limit is crossed and spilling is allowed (the caller spills, then `reset`s);
 * without allowDiskUse it throws AGGREGATE_MEMORY_LIMIT naming the stage.
 */
export class MemoryBudget {
  private used = 0;

  constructor(
    readonly limitBytes: number,
    readonly allowDiskUse: boolean,
    private readonly stage: string,
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  grow(bytes: number): boolean {
    this.used += bytes;
    if (this.used <= this.limitBytes) return true;
    if (!this.allowDiskUse) {
      throw new MantisError(
        'AGGREGATE_MEMORY_LIMIT',
        `${this.stage} exceeded the memory limit of ${this.limitBytes} bytes; pass "allow_disk_use": true to spill to disk`,
      );
    }
    return false;
  }

  /** Refuses outright when spilling cannot help (e.g. one $facet buffer). */
  growNoSpill(bytes: number): void {
    this.used += bytes;
    if (this.used > this.limitBytes) {
      throw new MantisError('AGGREGATE_MEMORY_LIMIT', `${this.stage} exceeded the memory limit of ${this.limitBytes} bytes`);
    }
  }

  reset(): void {
    this.used = 0;
  }
}
