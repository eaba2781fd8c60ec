// Benchmark support (main thread, offline): a deterministic zipfian trace of
// key ids. The CDF over n ranks is precomputed once and each draw is a binary
// search on it with a seeded xorshift128 generator: same seed, same trace.

export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = seed >>> 0 || 1;
    this.b = 0x9e3779b9;
    this.c = 0x243f6a88;
    this.d = 0xb7e15162;
    for (let i = 0; i < 16; i++) this.nextU32();
  }

  nextU32(): number {
    const t = this.a ^ (this.a << 11);
    this.a = this.b;
    this.b = this.c;
    this.c = this.d;
    this.d = (this.d ^ (this.d >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    return this.d;
  }

  /** A uniform double in [0, 1) with 53 bits. */
  next(): number {
    return ((this.nextU32() >>> 5) * 67108864 + (this.nextU32() >>> 6)) / 9007199254740992;
  }
}

export class ZipfSampler {
  private readonly cdf: Float64Array;

  /** Ranks 0..n-1; rank r has probability ∝ 1 / (r + 1)^s. */
  constructor(n: number, s: number) {
    this.cdf = new Float64Array(n);
    let sum = 0;
    for (let r = 0; r < n; r++) {
      sum += 1 / Math.pow(r + 1, s);
      this.cdf[r] = sum;
    }
    for (let r = 0; r < n; r++) this.cdf[r] /= sum;
  }

  sample(random: SeededRandom): number {
    const u = random.next();
    let low = 0;
    let high = this.cdf.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cdf[mid] < u) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The probability mass of the `k` most popular ranks. */
  massOfTop(k: number): number {
    return k <= 0 ? 0 : this.cdf[Math.min(k, this.cdf.length) - 1];
  }
}

/** `length` draws; rank r becomes key id (r × stride) mod n so hot ids are spread out. */
export function zipfTrace(n: number, s: number, length: number, seed: number): Int32Array {
  const sampler = new ZipfSampler(n, s);
  const random = new SeededRandom(seed);
  const stride = 2_654_435_761 % n || 1;
  const trace = new Int32Array(length);
  for (let i = 0; i < length; i++) trace[i] = (sampler.sample(random) * stride) % n;
  return trace;
}
