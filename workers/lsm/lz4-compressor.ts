// LZ4 block compression in plain TypeScript, in lz4-napi's framing ([u32 LE raw size]
// [LZ4 block]) so lz4-napi's uncompressSync reads it. Why not lz4-napi's compressSync:
// in 2.10.0 every call leaks ~350-600 bytes of native memory (measured: RSS grows
// ~35 MB per 100k calls), which a long-running shard cannot afford; uncompressSync
// does not leak and stays native.
//
// Greedy single-probe matcher, as LZ4's fast mode: a hash of the next 4 bytes finds one
// candidate within 64 KiB; incompressible stretches are skipped with growing steps.
// Format rules kept (lz4 block format spec): matches ≥ 4 bytes, the last 5 bytes are
// literals, and no match starts within the last 12 bytes.

const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_LOG = 14;
const SKIP_TRIGGER = 6;

/**
 * Positions are stored as `base + position` so one table serves every call without
 * clearing: entries from earlier calls are below `base` and ignored.
 */
const table = new Int32Array(1 << HASH_LOG);
let base = 0;

function read32(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
}

function hash(seq: number): number {
  return Math.imul(seq, 2654435761) >>> (32 - HASH_LOG);
}

/**
 * Compresses `src` into lz4-napi's format, or returns null when the output would be
 * longer than `limitBytes` (the caller stores the block raw then).
 */
export function lz4Compress(src: Uint8Array, limitBytes: number): Uint8Array | null {
  const n = src.length;
  if (base > 0x7fff_ffff - n - 1) {
    table.fill(0);
    base = 0;
  }
  const callBase = base + 1; // stored values ≥ callBase belong to this call
  base = callBase + n;
  const out = new Uint8Array(Math.min(limitBytes, n + Math.ceil(n / 255) + 16) + 4);
  const w = new SequenceWriter(out, src);
  out[0] = n & 0xff;
  out[1] = (n >>> 8) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = n >>> 24;
  let anchor = 0;
  let ip = 0;
  const ipLimit = n - MF_LIMIT;
  const matchLimit = n - LAST_LITERALS;
  let misses = 1 << SKIP_TRIGGER;
  while (ip < ipLimit) {
    const seq = read32(src, ip);
    const h = hash(seq);
    const stored = table[h];
    table[h] = callBase + ip;
    const ref = stored - callBase;
    if (stored < callBase || ip - ref > MAX_OFFSET || read32(src, ref) !== seq) {
      ip += misses++ >>> SKIP_TRIGGER;
      continue;
    }
    misses = 1 << SKIP_TRIGGER;
    let length = MIN_MATCH;
    while (ip + length < matchLimit && src[ip + length] === src[ref + length]) length++;
    if (!w.sequence(anchor, ip, ip - ref, length)) return null;
    ip += length;
    anchor = ip;
  }
  if (!w.lastLiterals(anchor, n)) return null;
  return out.subarray(0, w.at);
}

/** Writes LZ4 sequences into `out` after the 4-byte size; each call says whether it fit. */
class SequenceWriter {
  at = 4;
  constructor(
    private readonly out: Uint8Array,
    private readonly src: Uint8Array,
  ) {}

  /** Literals src[from, to), then a match of `length` bytes `offset` back. */
  sequence(from: number, to: number, offset: number, length: number): boolean {
    const literals = to - from;
    if (this.at + 1 + literals + Math.ceil(literals / 255) + 2 + Math.ceil(length / 255) > this.out.length) return false;
    const token = this.at++;
    const extra = length - MIN_MATCH;
    this.out[token] = (Math.min(literals, 15) << 4) | Math.min(extra, 15);
    this.copyLiterals(from, literals);
    this.out[this.at++] = offset & 0xff;
    this.out[this.at++] = offset >>> 8;
    if (extra >= 15) this.lengthTail(extra - 15);
    return true;
  }

  /** The closing run of literals src[from, to). */
  lastLiterals(from: number, to: number): boolean {
    const literals = to - from;
    if (this.at + 1 + literals + Math.ceil(literals / 255) > this.out.length) return false;
    this.out[this.at++] = Math.min(literals, 15) << 4;
    this.copyLiterals(from, literals);
    return true;
  }

  private copyLiterals(from: number, literals: number): void {
    if (literals >= 15) this.lengthTail(literals - 15);
    if (literals < 16) {
      for (let i = 0; i < literals; i++) this.out[this.at + i] = this.src[from + i];
    } else {
      this.out.set(this.src.subarray(from, from + literals), this.at);
    }
    this.at += literals;
  }

  private lengthTail(rest: number): void {
    while (rest >= 255) {
      this.out[this.at++] = 255;
      rest -= 255;
    }
    this.out[this.at++] = rest;
  }
}
