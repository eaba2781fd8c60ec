// The dependency graph's edges in memory, indexed both ways (parent →
// children for cascades, child → parents for GET ?child=). Main thread. Only
// DependencyGraph changes it, and only with what is already durable.

export class EdgeSet {
  private readonly out = new Map<string, Set<string>>();
  private readonly in = new Map<string, Set<string>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(parent: string, child: string): boolean {
    return this.out.get(parent)?.has(child) === true;
  }

  /** True when the edge is new. */
  add(parent: string, child: string): boolean {
    let children = this.out.get(parent);
    if (children === undefined) this.out.set(parent, (children = new Set()));
    if (children.has(child)) return false;
    children.add(child);
    let parents = this.in.get(child);
    if (parents === undefined) this.in.set(child, (parents = new Set()));
    parents.add(parent);
    this.count++;
    return true;
  }

  /** True when the edge was there. */
  remove(parent: string, child: string): boolean {
    const children = this.out.get(parent);
    if (children === undefined || !children.delete(child)) return false;
    if (children.size === 0) this.out.delete(parent);
    const parents = this.in.get(child);
    parents?.delete(parent);
    if (parents?.size === 0) this.in.delete(child);
    this.count--;
    return true;
  }

  /** The live set (REQUIRES: the caller does not change it). */
  childrenOf(key: string): ReadonlySet<string> | undefined {
    return this.out.get(key);
  }

  parentsOf(key: string): ReadonlySet<string> | undefined {
    return this.in.get(key);
  }

  /**
   * Every edge, lazily. Safe to resume across awaits while edges change (Map
   * and Set iterators are live): an edge present from start to end is
   * yielded; one added or removed meanwhile may or may not be.
   */
  *entries(): Generator<readonly [string, string]> {
    for (const [parent, children] of this.out) for (const child of children) yield [parent, child];
  }
}
