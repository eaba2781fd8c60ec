// shared/slot.ts: CRC16/XMODEM, Redis Cluster key slots and the slot → shard map.
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../shared/limits.js';
import { buildSlotMap, crc16, shardOfKey, slotOfKey } from '../../shared/slot.js';
import { Xorshift32 } from './support/prng.js';

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const slot = (s: string): number => slotOfKey(utf8(s));

/** Bit-by-bit CRC16/XMODEM (poly 0x1021, init 0, no reflection), independent of the table. */
function crc16Reference(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

describe('crc16', () => {
  it('is CRC16/XMODEM', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(crc16(new Uint8Array(0))).toBe(0);
  });

  it('agrees with a bitwise reference on random inputs', () => {
    const rng = new Xorshift32(7);
    for (let i = 0; i < 500; i++) {
      const bytes = rng.bytes(rng.range(0, 64));
      expect(crc16(bytes)).toBe(crc16Reference(bytes));
    }
  });

  it('honours start and end', () => {
    const bytes = Buffer.from('xx123456789yy');
    expect(crc16(bytes, 2, 11)).toBe(0x31c3);
    expect(crc16(bytes, 5, 5)).toBe(0);
  });
});

describe('slotOfKey', () => {
  it('matches Redis Cluster CLUSTER KEYSLOT', () => {
    expect(slot('foo')).toBe(12182);
    expect(slot('bar')).toBe(5061);
    expect(slot('123456789')).toBe(0x31c3 % LIMITS.slot_count);
  });

  it('hashes only a non-empty {tag}', () => {
    expect(slot('{user1000}.following')).toBe(slot('{user1000}.followers'));
    expect(slot('{user1000}.following')).toBe(slot('user1000'));
    expect(slot('foo{}{bar}')).toBe(crc16(utf8('foo{}{bar}')) % LIMITS.slot_count);
    expect(slot('foo{{bar}}zap')).toBe(slot('{bar'));
    expect(slot('foo{{bar}}zap')).toBe(crc16(utf8('{bar')) % LIMITS.slot_count);
    expect(slot('foo{bar}{zap}')).toBe(slot('bar'));
    expect(slot('no-close{brace')).toBe(crc16(utf8('no-close{brace')) % LIMITS.slot_count);
    expect(slot('close}before{open}')).toBe(slot('open'));
  });

  it('is always inside 0..slot_count-1', () => {
    const rng = new Xorshift32(8);
    for (let i = 0; i < 2000; i++) {
      const s = slotOfKey(rng.bytes(rng.range(0, 40)));
      expect(Number.isInteger(s) && s >= 0 && s < LIMITS.slot_count).toBe(true);
    }
  });
});

describe('buildSlotMap', () => {
  it('covers every slot with contiguous, balanced ranges for 1..16 shards', () => {
    for (let shards = 1; shards <= 16; shards++) {
      const map = buildSlotMap(shards);
      expect(map.length).toBe(LIMITS.slot_count);
      const sizes = new Array<number>(shards).fill(0);
      expect(map[0]).toBe(0);
      expect(map[LIMITS.slot_count - 1]).toBe(shards - 1);
      for (let s = 0; s < map.length; s++) {
        const shard = map[s];
        expect(shard >= 0 && shard < shards).toBe(true);
        if (s > 0 && shard !== map[s - 1]) {
          // contiguous: the next range starts right where the previous one ended
          expect(shard).toBe(map[s - 1] + 1);
        }
        sizes[shard]++;
      }
      expect(sizes.every((n) => n > 0)).toBe(true);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(LIMITS.slot_count);
    }
  });

  it('rejects 0, negatives and non-integers', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1025]) {
      expect(() => buildSlotMap(bad), String(bad)).toThrow(RangeError);
    }
  });

  it('spreads 100k random keys over 4 shards within ±5% of even', () => {
    const rng = new Xorshift32(0xc0ffee);
    const map = buildSlotMap(4);
    const counts = [0, 0, 0, 0];
    const keys = 100_000;
    for (let i = 0; i < keys; i++) {
      const key = `user:${rng.nextU32().toString(36)}:${rng.int(1_000_000)}`;
      counts[shardOfKey(map, utf8(key))]++;
    }
    for (const count of counts) {
      expect(count).toBeGreaterThanOrEqual((keys / 4) * 0.95);
      expect(count).toBeLessThanOrEqual((keys / 4) * 1.05);
    }
  });
});
