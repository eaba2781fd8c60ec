// Shard side: the W-TinyLFU eviction policy of one cache segment, kept in the
// shard's JS heap and fed by shard-side accesses and the drained read buffer.
//
// New entries enter a small LRU window (1 % of the weight). When the window
// is over its share, its LRU entry moves to the probation segment of the main
// SLRU if the main has room; otherwise, when room is needed, that candidate
// duels the probation LRU victim and the one the frequency sketch says was
// used less often is evicted. A probation entry accessed again is promoted to
// the protected segment (80 % of the main), whose overflow is demoted back to
// probation. Weights are logical bytes. Every operation is O(1).

import { FrequencySketch } from './frequency-sketch.js';
import { NO_NODE, NodeLists } from './node-lists.js';

const WINDOW = 1;
const PROBATION = 2;
const PROTECTED = 3;
const WINDOW_FRACTION_DEFAULT = 0.01;
const PROTECTED_FRACTION = 0.8;

export interface PolicyTuning {
  /** Share of the weight for the admission window (default 0.01). */
  readonly windowFraction?: number;
  /** The sketch halves its counters every sampleFactor × expected entries accesses. */
  readonly sampleFactor?: number;
}

export interface PolicyWeights {
  readonly window: number;
  readonly probation: number;
  readonly protected: number;
}

export class TinyLfuPolicy {
  private readonly lists: NodeLists;
  private readonly sketch: FrequencySketch;
  private readonly hashes: Uint32Array;
  private readonly weights: Float64Array;
  private readonly listWeight = new Float64Array(4);
  private readonly windowMax: number;
  private readonly mainMax: number;
  private readonly protectedMax: number;

  constructor(nodeCapacity: number, weightMax: number, expectedEntries: number, tuning: PolicyTuning = {}) {
    const windowFraction = tuning.windowFraction ?? WINDOW_FRACTION_DEFAULT;
    this.lists = new NodeLists(nodeCapacity, 3);
    this.sketch = new FrequencySketch(expectedEntries, tuning.sampleFactor);
    this.hashes = new Uint32Array(nodeCapacity);
    this.weights = new Float64Array(nodeCapacity);
    this.windowMax = Math.max(1, Math.floor(weightMax * windowFraction));
    this.mainMax = weightMax - this.windowMax;
    this.protectedMax = Math.floor(this.mainMax * PROTECTED_FRACTION);
  }

  weightsNow(): PolicyWeights {
    const w = this.listWeight;
    return { window: w[WINDOW], probation: w[PROBATION], protected: w[PROTECTED] };
  }

  /** A new entry: counted once and placed at the head of the window. */
  insert(node: number, hash: number, weight: number): void {
    this.hashes[node] = hash;
    this.weights[node] = weight;
    this.sketch.increment(hash);
    this.lists.pushHead(WINDOW, node);
    this.listWeight[WINDOW] += weight;
    this.spillWindow();
  }

  access(node: number): void {
    this.sketch.increment(this.hashes[node]);
    const list = this.lists.listOf(node);
    if (list === PROBATION) this.promote(node);
    else if (list !== 0) this.lists.moveToHead(list, node);
  }

  /** An access to a key the cache does not hold (it raises the key's frequency). */
  recordMiss(hash: number): void {
    this.sketch.increment(hash);
  }

  resize(node: number, weight: number): void {
    const list = this.lists.listOf(node);
    this.listWeight[list] += weight - this.weights[node];
    this.weights[node] = weight;
  }

  remove(node: number): void {
    this.listWeight[this.lists.listOf(node)] -= this.weights[node];
    this.lists.unlink(node);
  }

  /**
   * The node to evict next (not removed: call remove). Never `pinned`;
   * NO_NODE when nothing but `pinned` is left. May move a duel's winner from
   * the window into probation.
   */
  selectVictim(pinned: number): number {
    if (this.listWeight[WINDOW] > this.windowMax) {
      const candidate = this.lruExcept(WINDOW, pinned);
      const victim = this.mainVictim(pinned);
      if (candidate !== NO_NODE && victim !== NO_NODE) return this.duel(candidate, victim);
    }
    const victim = this.mainVictim(pinned);
    return victim !== NO_NODE ? victim : this.lruExcept(WINDOW, pinned);
  }

  private duel(candidate: number, victim: number): number {
    const candidateFrequency = this.sketch.frequency(this.hashes[candidate]);
    if (candidateFrequency <= this.sketch.frequency(this.hashes[victim])) return candidate;
    this.move(candidate, WINDOW, PROBATION);
    return victim;
  }

  private mainVictim(pinned: number): number {
    const victim = this.lruExcept(PROBATION, pinned);
    return victim !== NO_NODE ? victim : this.lruExcept(PROTECTED, pinned);
  }

  private lruExcept(list: number, pinned: number): number {
    const tail = this.lists.tail(list);
    return tail === pinned && tail !== NO_NODE ? this.lists.newer(tail) : tail;
  }

  /** Moves window overflow into probation while the main segment has room. */
  private spillWindow(): void {
    while (this.listWeight[WINDOW] > this.windowMax && this.lists.size(WINDOW) > 1) {
      const candidate = this.lists.tail(WINDOW);
      const mainWeight = this.listWeight[PROBATION] + this.listWeight[PROTECTED];
      if (mainWeight + this.weights[candidate] > this.mainMax) return;
      this.move(candidate, WINDOW, PROBATION);
    }
  }

  private promote(node: number): void {
    this.move(node, PROBATION, PROTECTED);
    while (this.listWeight[PROTECTED] > this.protectedMax && this.lists.size(PROTECTED) > 1) {
      this.move(this.lists.tail(PROTECTED), PROTECTED, PROBATION);
    }
  }

  private move(node: number, from: number, to: number): void {
    this.listWeight[from] -= this.weights[node];
    this.listWeight[to] += this.weights[node];
    this.lists.moveToHead(to, node);
  }
}
