// The storage benchmark's data: fixed-width keys, values of 100..1024 bytes
// that LZ4/Snappy compress about 2:1 (like LevelDB's db_bench), and a record
// of each key's current version so every read can be checked. A value is a
// pure function of (key index, version), so nothing but the versions is kept.

export const KEY_DIGITS = 12;
export const VALUE_BYTES_MIN = 100;
export const VALUE_BYTES_MAX = 1024;
/** Keys sharing the first KEY_DIGITS - 2 digits: a scan prefix selects exactly this many. */
export const SCAN_PREFIX_KEYS = 100;

const KEY_PREFIX = 'k';
export const KEY_BYTES = KEY_PREFIX.length + KEY_DIGITS;

/** A small deterministic PRNG (mulberry32), so both engines get the same workload. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix(i: number, v: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(v + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** 1 MiB of bytes where every 64-byte run is 32 random bytes written twice: ~2:1 compressible. */
function makeFiller(): Buffer {
  const next = rng(42);
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let off = 0; off < buf.length; off += 64) {
    for (let j = 0; j < 32; j++) buf[off + j] = buf[off + 32 + j] = 32 + Math.floor(next() * 95);
  }
  return buf;
}

const FILLER = makeFiller();

export function keyString(i: number): string {
  return KEY_PREFIX + String(i).padStart(KEY_DIGITS, '0');
}

export function keyOf(i: number): Buffer {
  return Buffer.from(keyString(i), 'latin1');
}

export function valueBytes(i: number, version: number): number {
  return VALUE_BYTES_MIN + (mix(i, version) % (VALUE_BYTES_MAX - VALUE_BYTES_MIN + 1));
}

function header(i: number, version: number): string {
  return `${i}.${version};`;
}

export function valueOf(i: number, version: number): Buffer {
  const length = valueBytes(i, version);
  const out = Buffer.allocUnsafe(length);
  const head = header(i, version);
  out.write(head, 0, 'latin1');
  const from = mix(version, i) % (FILLER.length - VALUE_BYTES_MAX);
  FILLER.copy(out, head.length, from, from + length - head.length);
  return out;
}

/** The version of every key written so far (0 = never written; versions start at 1). */
export class DataSet {
  readonly versions: Uint16Array;
  userBytesWritten = 0;

  constructor(readonly keyCount: number) {
    this.versions = new Uint16Array(keyCount);
  }

  /** Chooses the next version of key i, counts its bytes, returns the value to write. */
  nextValue(i: number): Buffer {
    const version = ++this.versions[i];
    const value = valueOf(i, version);
    this.userBytesWritten += KEY_BYTES + value.length;
    return value;
  }

  /** Undefined if the value read is the one last written to key i, else what is wrong with it. */
  check(i: number, value: Uint8Array | undefined): string | undefined {
    const version = this.versions[i];
    if (version === 0) return value === undefined ? undefined : `key ${keyString(i)} was never written but a value was read`;
    if (value === undefined) return `key ${keyString(i)} (version ${version}) is missing`;
    const want = valueOf(i, version);
    if (Buffer.compare(want, value) === 0) return undefined;
    const got = Buffer.from(value.buffer, value.byteOffset, Math.min(24, value.byteLength)).toString('latin1');
    return `key ${keyString(i)}: expected version ${version} (${want.length} bytes), got ${value.byteLength} bytes starting ${JSON.stringify(got)}`;
  }

  /** Key + value bytes of the newest version of every written key. */
  liveUserBytes(): number {
    let total = 0;
    for (let i = 0; i < this.keyCount; i++) {
      const v = this.versions[i];
      if (v !== 0) total += KEY_BYTES + valueBytes(i, v);
    }
    return total;
  }
}

export const averageEntryBytes = KEY_BYTES + (VALUE_BYTES_MIN + VALUE_BYTES_MAX) / 2;
