// Shard side: TinyLFU's approximate access counts. A count-min sketch of 4-bit
// counters (eight per u32 word), four probes per key; the estimate is the
// smallest of the four. After `sampleSize` increments every counter is halved,
// so old popularity fades (the "reset" of TinyLFU). Lives in the shard's heap.

const PROBES = 4;
const COUNTER_MAX = 15;
/** As Caffeine: sixteen 4-bit counters per expected entry (8 bytes) keeps collisions rare. */
const COUNTERS_PER_ENTRY = 16;
export const SAMPLE_FACTOR_DEFAULT = 10;
const SEEDS = [0x97cb3127, 0xb7a5ce3d, 0x5f2a9e41, 0xcfa28f0b];

function probeIndex(hash: number, probe: number, mask: number): number {
  let h = Math.imul(hash ^ SEEDS[probe], 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  return (h >>> 0) & mask;
}

export class FrequencySketch {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private readonly sampleSize: number;
  private additions = 0;

  /**
   * `expectedEntries`: about how many entries the cache holds; counters are
   * halved every `sampleFactor` × expectedEntries increments.
   */
  constructor(expectedEntries: number, sampleFactor = SAMPLE_FACTOR_DEFAULT) {
    const counters = 2 ** Math.ceil(Math.log2(Math.max(64, expectedEntries * COUNTERS_PER_ENTRY)));
    this.words = new Uint32Array(counters / 8);
    this.mask = counters - 1;
    this.sampleSize = sampleFactor * Math.max(64, expectedEntries);
  }

  frequency(hash: number): number {
    let least = COUNTER_MAX;
    for (let p = 0; p < PROBES; p++) least = Math.min(least, this.counter(probeIndex(hash, p, this.mask)));
    return least;
  }

  increment(hash: number): void {
    let added = false;
    for (let p = 0; p < PROBES; p++) {
      const index = probeIndex(hash, p, this.mask);
      if (this.counter(index) < COUNTER_MAX) {
        this.words[index >>> 3] += 1 << ((index & 7) << 2);
        added = true;
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.halve();
  }

  private counter(index: number): number {
    return (this.words[index >>> 3] >>> ((index & 7) << 2)) & 0xf;
  }

  private halve(): void {
    for (let i = 0; i < this.words.length; i++) this.words[i] = (this.words[i] >>> 1) & 0x77777777;
    this.additions = Math.floor(this.additions / 2);
  }
}
