// Shard side: intrusive doubly linked lists over node ids (0..capacity-1) kept
// in typed arrays, so every list operation is O(1) with no allocation. A node
// is on at most one list. Head = most recently used, tail = least.

export const NO_NODE = -1;
export const NO_LIST = 0;

export class NodeLists {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly owner: Uint8Array;
  private readonly heads: Int32Array;
  private readonly tails: Int32Array;
  private readonly counts: Int32Array;

  /** Lists are numbered 1..listCount. */
  constructor(nodeCapacity: number, listCount: number) {
    this.prev = new Int32Array(nodeCapacity);
    this.next = new Int32Array(nodeCapacity);
    this.owner = new Uint8Array(nodeCapacity);
    this.heads = new Int32Array(listCount + 1).fill(NO_NODE);
    this.tails = new Int32Array(listCount + 1).fill(NO_NODE);
    this.counts = new Int32Array(listCount + 1);
  }

  listOf(node: number): number {
    return this.owner[node];
  }

  size(list: number): number {
    return this.counts[list];
  }

  /** Least recently used node of a list, or NO_NODE. */
  tail(list: number): number {
    return this.tails[list];
  }

  /** The node after `node` toward the head (more recent), or NO_NODE. */
  newer(node: number): number {
    return this.prev[node];
  }

  /** REQUIRES: node on no list. */
  pushHead(list: number, node: number): void {
    const head = this.heads[list];
    this.prev[node] = NO_NODE;
    this.next[node] = head;
    if (head === NO_NODE) this.tails[list] = node;
    else this.prev[head] = node;
    this.heads[list] = node;
    this.owner[node] = list;
    this.counts[list]++;
  }

  /** Takes node off its list (no-op when on none). */
  unlink(node: number): void {
    const list = this.owner[node];
    if (list === NO_LIST) return;
    const prev = this.prev[node];
    const next = this.next[node];
    if (prev === NO_NODE) this.heads[list] = next;
    else this.next[prev] = next;
    if (next === NO_NODE) this.tails[list] = prev;
    else this.prev[next] = prev;
    this.owner[node] = NO_LIST;
    this.counts[list]--;
  }

  moveToHead(list: number, node: number): void {
    this.unlink(node);
    this.pushHead(list, node);
  }
}
