// workers/cache/buddy-allocator.ts against a model of live blocks (fast-check):
// blocks never overlap, stay inside the arena and hold what was asked; freeing
// everything coalesces back to the initial carving.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BuddyAllocator } from '../../workers/cache/buddy-allocator.js';

type Op = { kind: 'alloc'; bytes: number } | { kind: 'free'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('alloc' as const), bytes: fc.integer({ min: 1, max: 5000 }) }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
);

function expectDisjoint(live: Map<number, number>, arenaBytes: number): void {
  const blocks = [...live].sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < blocks.length; i++) {
    const [offset, size] = blocks[i];
    expect(offset % 64).toBe(0);
    expect(offset % size, 'aligned to its size').toBe(0);
    expect(offset + size).toBeLessThanOrEqual(arenaBytes);
    if (i > 0) expect(blocks[i - 1][0] + blocks[i - 1][1]).toBeLessThanOrEqual(offset);
  }
}

describe('BuddyAllocator', () => {
  it('never hands out overlapping blocks and coalesces fully (model-based)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.array(opArb, { maxLength: 300 }), (units, ops) => {
        const arenaBytes = Math.max(units, 128) * 64;
        const allocator = new BuddyAllocator(arenaBytes, 8192);
        const initial = allocator.freeBlockCounts();
        const live = new Map<number, number>();
        for (const op of ops) {
          if (op.kind === 'alloc') {
            const offset = allocator.alloc(op.bytes);
            if (offset < 0) continue;
            const size = allocator.blockBytesAt(offset);
            expect(size).toBeGreaterThanOrEqual(op.bytes);
            expect(size).toBeLessThan(Math.max(128, op.bytes * 2));
            expect(live.has(offset)).toBe(false);
            live.set(offset, size);
          } else if (live.size > 0) {
            const offset = [...live.keys()][op.pick % live.size];
            allocator.free(offset);
            live.delete(offset);
          }
          expectDisjoint(live, arenaBytes);
          const used = [...live.values()].reduce((a, b) => a + b, 0);
          expect(allocator.freeBytes).toBe(arenaBytes - used);
        }
        for (const offset of live.keys()) allocator.free(offset);
        expect(allocator.freeBytes).toBe(arenaBytes);
        expect(allocator.freeBlockCounts()).toEqual(initial);
      }),
      { numRuns: 300 },
    );
  });

  it('fills a power-of-two arena exactly with minimum blocks, then fails', () => {
    const allocator = new BuddyAllocator(64 * 64, 1024);
    const offsets = new Set<number>();
    for (let i = 0; i < 64; i++) offsets.add(allocator.alloc(1));
    expect(offsets.size).toBe(64);
    expect(allocator.alloc(1)).toBe(-1);
    expect(allocator.freeBytes).toBe(0);
  });

  it('refuses blocks above the maximum and asserts on a bad free', () => {
    const allocator = new BuddyAllocator(64 * 1024, 4096);
    expect(allocator.blockBytesFor(4097)).toBe(0);
    expect(allocator.alloc(4097)).toBe(-1);
    expect(allocator.blockBytesFor(4096)).toBe(4096);
    const offset = allocator.alloc(100);
    allocator.free(offset);
    expect(() => allocator.free(offset)).toThrow(/assertion failed/);
  });
});
