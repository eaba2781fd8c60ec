// shared/ring.ts: the SPSC ring of framed messages in a SharedArrayBuffer.
// Single-thread tests drive writer and reader by hand; the last test runs the
// reader and writer on different threads through the compiled module.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRing, RingReader, RingWriter, ringBytesFor } from '../../shared/ring.js';
import { settledAfterATurn, within, Xorshift32 } from './support/prng.js';

const CAPACITY = 4096;
/** Int32 indices of head and tail in the control block (bytes 0 and 64). */
const HEAD_INDEX = 0;
const TAIL_INDEX = 16;
const CONTROL_INT32S = 64;
const ALL = Number.MAX_SAFE_INTEGER;
const WAIT_MS = 5000;

const align4 = (n: number): number => (n + 3) & ~3;

type Ring = { sab: SharedArrayBuffer; writer: RingWriter; reader: RingReader };

/** A ring whose head and tail start at `startPosition` (set before writer and reader exist). */
function makeRing(capacity = CAPACITY, startPosition?: number): Ring {
  const sab = createRing(capacity);
  if (startPosition !== undefined) {
    const control = new Int32Array(sab, 0, CONTROL_INT32S);
    control[HEAD_INDEX] = startPosition | 0;
    control[TAIL_INDEX] = startPosition | 0;
  }
  return { sab, writer: new RingWriter(sab), reader: new RingReader(sab) };
}

function controlWord(sab: SharedArrayBuffer, index: number): number {
  return Atomics.load(new Int32Array(sab, 0, CONTROL_INT32S), index) >>> 0;
}

function patterned(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (seed * 131 + i * 7 + (i >>> 8)) & 0xff;
  return out;
}

/**
 * Sends every message through the ring on this thread: writes until the
 * writer makes no progress, then commits and drains everything.
 */
function pump(ring: Ring, messages: readonly Uint8Array[], out: Uint8Array[]): void {
  const { writer, reader } = ring;
  for (const message of messages) {
    let offset = 0;
    for (;;) {
      const next = writer.write(message, offset);
      if (next === message.length) break;
      if (next === offset) {
        writer.commit();
        if (writer.usedBytes() === 0) {
          throw new Error(`ring stuck: no progress into an empty ring at ${offset}/${message.length}`);
        }
        reader.drain(out, ALL);
      }
      offset = next;
    }
  }
  writer.commit();
  reader.drain(out, ALL);
}

function expectSameMessages(actual: readonly Uint8Array[], expected: readonly Uint8Array[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Buffer.from(actual[i]).equals(Buffer.from(expected[i]))) {
      expect.fail(`message ${i} differs: got ${actual[i].length} bytes, want ${expected[i].length}`);
    }
  }
}

/** Where each single-record message lands, for a ring starting at `start`. */
function layout(sizes: readonly number[], start: number, capacity = CAPACITY): {
  end: number;
  splitPayloads: number;
  payloadAtZero: number;
} {
  const mask = capacity - 1;
  let position = start >>> 0;
  let splitPayloads = 0;
  let payloadAtZero = 0;
  for (const size of sizes) {
    const at = position & mask;
    if (at + 4 === capacity && size > 0) payloadAtZero++;
    if (at + 4 < capacity && at + 4 + size > capacity) splitPayloads++;
    position = (position + 4 + align4(size)) >>> 0;
  }
  return { end: position, splitPayloads, payloadAtZero };
}

describe('ring sizing', () => {
  it('accepts powers of two from 4096 and rejects anything else', () => {
    expect(ringBytesFor(4096)).toBe(4096 + 256);
    expect(createRing(65536).byteLength).toBe(65536 + 256);
    for (const bad of [0, 1024, 2048, 4095, 5000, 6144, 3 * 4096]) {
      expect(() => ringBytesFor(bad), String(bad)).toThrow(RangeError);
    }
    expect(() => new RingReader(new SharedArrayBuffer(256 + 5000))).toThrow(RangeError);
  });
});

describe('single-thread round trips', () => {
  it('carries thousands of random-size messages (1..capacity/4) in FIFO order with exact bytes', () => {
    const rng = new Xorshift32(0x5eed_0001);
    const messages = Array.from({ length: 4000 }, () => rng.bytes(rng.range(1, CAPACITY / 4)));
    messages[17] = new Uint8Array(1);
    messages[18] = new Uint8Array(CAPACITY / 4);
    const ring = makeRing();
    const out: Uint8Array[] = [];
    pump(ring, messages, out);
    expectSameMessages(out, messages);
    expect(ring.reader.hasData()).toBe(false);
    expect(ring.writer.usedBytes()).toBe(0);

    // Every message up to capacity/4 is one record, so the layout is predictable:
    // positions lapped the ring many times and many payloads were split at its end.
    const expected = layout(messages.map((m) => m.length), 0);
    expect(controlWord(ring.sab, TAIL_INDEX)).toBe(expected.end);
    expect(controlWord(ring.sab, HEAD_INDEX)).toBe(expected.end);
    expect(expected.end / CAPACITY).toBeGreaterThan(100);
    expect(expected.splitPayloads).toBeGreaterThan(50);
  });

  it('reassembles a payload split at the end of the data area and one that starts at offset 0', () => {
    const sizes = [1000, 1000, 1000, 1000, 100, 1000, 1000, 1000, 1000, 48, 200, 3, 1, 1];
    const plan = layout(sizes, 0);
    expect(plan.splitPayloads).toBeGreaterThanOrEqual(1);
    expect(plan.payloadAtZero).toBeGreaterThanOrEqual(1);
    const messages = sizes.map((size, i) => patterned(size, i + 1));
    const ring = makeRing();
    const out: Uint8Array[] = [];
    pump(ring, messages, out);
    expectSameMessages(out, messages);
    expect(controlWord(ring.sab, TAIL_INDEX)).toBe(plan.end);
  });

  it('publishes nothing before commit()', () => {
    const { writer, reader } = makeRing();
    expect(writer.write(patterned(10, 1))).toBe(10);
    expect(reader.hasData()).toBe(false);
    expect(reader.usedBytes()).toBe(0);
    const out: Uint8Array[] = [];
    expect(reader.drain(out, ALL)).toBe(0);
    writer.commit();
    expect(reader.hasData()).toBe(true);
    expect(reader.usedBytes()).toBe(4 + 12);
    expect(reader.drain(out, ALL)).toBe(1);
    expect(reader.hasData()).toBe(false);
    expectSameMessages(out, [patterned(10, 1)]);
  });
});

describe('a full ring', () => {
  it('makes no progress on a small message until the reader drains, then takes it', () => {
    const { writer, reader } = makeRing();
    const quarters = [0, 1, 2, 3].map((i) => patterned(CAPACITY / 4 - 4, i));
    for (const q of quarters) expect(writer.write(q)).toBe(q.length);
    writer.commit();
    expect(writer.usedBytes()).toBe(CAPACITY);

    const small = patterned(3, 99);
    expect(writer.write(small, 0)).toBe(0);
    expect(writer.write(small, 0)).toBe(0);
    writer.commit();
    expect(reader.usedBytes()).toBe(CAPACITY);

    const out: Uint8Array[] = [];
    expect(reader.drain(out, 1)).toBe(1);
    expect(writer.write(small, 0)).toBe(small.length);
    writer.commit();
    expect(reader.drain(out, ALL)).toBe(4);
    expectSameMessages(out, [...quarters, small]);
  });

  it('does not lose an empty message offered to a full ring', () => {
    const { writer, reader } = makeRing();
    const quarters = [0, 1, 2, 3].map((i) => patterned(CAPACITY / 4 - 4, i));
    for (const q of quarters) writer.write(q);
    writer.commit();
    expect(writer.usedBytes()).toBe(CAPACITY);

    const empty = new Uint8Array(0); // never a real frame: write() refuses it
    // write() reports "it is all in" by returning message.length, which for an
    // empty message is 0: the same value as "no progress". Refusing loudly
    // (throwing) is acceptable; claiming success without writing is not.
    let reported: number | 'refused';
    try {
      reported = writer.write(empty, 0);
    } catch {
      reported = 'refused';
    }
    if (reported === empty.length) {
      writer.commit();
      const out: Uint8Array[] = [];
      reader.drain(out, ALL);
      writer.commit();
      reader.drain(out, ALL);
      // The writer was told the message is in, so the reader must receive it.
      expectSameMessages(out, [...quarters, empty]);
    }
  });

  it('keeps a frame bigger than the free space but at most capacity/4 whole: it waits, then crosses as one record', () => {
    const { writer, reader } = makeRing();
    const filler = patterned(CAPACITY - 1000 - 4, 1); // leaves exactly 1000 bytes free
    expect(writer.write(filler)).toBe(filler.length);
    writer.commit();
    expect(writer.usedBytes()).toBe(CAPACITY - 1000);

    const frame = patterned(1000, 2); // needs 1004 bytes: does not fit, and is <= capacity/4
    expect(writer.write(frame, 0)).toBe(0);
    writer.commit();
    expect(writer.usedBytes()).toBe(CAPACITY - 1000);

    const out: Uint8Array[] = [];
    expect(reader.drain(out, ALL)).toBe(1);
    expect(writer.write(frame, 0)).toBe(frame.length);
    writer.commit();
    expect(reader.usedBytes()).toBe(4 + 1000); // one record: no fragment headers
    expect(reader.drain(out, ALL)).toBe(1);
    expectSameMessages(out, [filler, frame]);
  });

  it('takes a frame that fits the free space exactly', () => {
    const { writer, reader } = makeRing();
    const filler = patterned(CAPACITY - 1004 - 4, 1);
    writer.write(filler);
    const frame = patterned(1000, 2);
    expect(writer.write(frame)).toBe(frame.length);
    writer.commit();
    expect(reader.usedBytes()).toBe(CAPACITY);
    const out: Uint8Array[] = [];
    expect(reader.drain(out, ALL)).toBe(2);
    expectSameMessages(out, [filler, frame]);
  });

  it('fragments only frames larger than capacity/4', () => {
    const atQuarter = makeRing();
    atQuarter.writer.write(patterned(CAPACITY - 1000 - 4, 1));
    expect(atQuarter.writer.write(patterned(CAPACITY / 4, 2), 0)).toBe(0);

    const overQuarter = makeRing();
    overQuarter.writer.write(patterned(CAPACITY - 1000 - 4, 1));
    const big = patterned(CAPACITY / 4 + 1, 3);
    const taken = overQuarter.writer.write(big, 0);
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThan(big.length);
    const out: Uint8Array[] = [];
    pumpRest(overQuarter, big, taken, out);
    expect(out.length).toBe(2);
    expectSameMessages([out[1]], [big]);
  });
});

/** Finishes writing `message` from `offset`, draining as needed. */
function pumpRest(ring: Ring, message: Uint8Array, offset: number, out: Uint8Array[]): void {
  let at = offset;
  while (at < message.length) {
    ring.writer.commit();
    ring.reader.drain(out, ALL);
    at = ring.writer.write(message, at);
  }
  ring.writer.commit();
  ring.reader.drain(out, ALL);
}

describe('messages bigger than the ring', () => {
  it('cross in fragments and are reassembled exactly, between ordinary messages', () => {
    const rng = new Xorshift32(0x5eed_0002);
    const ring = makeRing();
    const { writer, reader } = ring;
    const messages = [
      patterned(10, 1),
      rng.bytes(CAPACITY + 1),
      patterned(1, 2),
      rng.bytes(3 * CAPACITY + 123),
      rng.bytes(10 * CAPACITY),
      patterned(CAPACITY / 4, 3),
      rng.bytes(CAPACITY - 4), // fits an empty ring as one record
      patterned(5, 4),
    ];
    const out: Uint8Array[] = [];
    for (const message of messages) {
      let offset = 0;
      let rounds = 0;
      for (;;) {
        const next = writer.write(message, offset);
        writer.commit();
        const before = out.length;
        reader.drain(out, ALL);
        if (next === message.length) {
          expect(out.length - before).toBe(1);
          break;
        }
        // A partly written message is never delivered early.
        expect(out.length).toBe(before);
        offset = next;
        if (++rounds > 1000) expect.fail('no progress writing a large message');
      }
      if (message.length > CAPACITY) expect(rounds).toBeGreaterThan(0);
    }
    expectSameMessages(out, messages);
    expect(reader.hasData()).toBe(false);
  });

  it('round-trips a random mix of huge and small messages through pump()', () => {
    const rng = new Xorshift32(0x5eed_0003);
    const messages = Array.from({ length: 300 }, () =>
      rng.chance(0.15) ? rng.bytes(rng.range(CAPACITY / 4 + 1, 5 * CAPACITY)) : rng.bytes(rng.range(1, 600)),
    );
    const out: Uint8Array[] = [];
    pump(makeRing(), messages, out);
    expectSameMessages(out, messages);
  });
});

describe('drain(out, max)', () => {
  it('returns at most max messages, leaving the rest in order, and frees only what it consumed', () => {
    const { writer, reader } = makeRing();
    const messages = Array.from({ length: 10 }, (_, i) => patterned(i * 3 + 1, i));
    for (const m of messages) writer.write(m);
    writer.commit();
    const used = reader.usedBytes();

    const out: Uint8Array[] = [];
    expect(reader.drain(out, 0)).toBe(0);
    expect(out).toHaveLength(0);
    expect(reader.usedBytes()).toBe(used);

    expect(reader.drain(out, 3)).toBe(3);
    expectSameMessages(out, messages.slice(0, 3));
    const consumed = messages.slice(0, 3).reduce((sum, m) => sum + 4 + align4(m.length), 0);
    expect(reader.usedBytes()).toBe(used - consumed);
    expect(reader.hasData()).toBe(true);

    expect(reader.drain(out, 100)).toBe(7);
    expectSameMessages(out, messages);
    expect(reader.hasData()).toBe(false);
    expect(reader.drain(out, 100)).toBe(0);
  });

  it('counts a fragmented message once, when its last fragment arrives', () => {
    const ring = makeRing();
    const { writer, reader } = ring;
    const big = patterned(2 * CAPACITY, 7);
    const small = patterned(8, 8);
    const out: Uint8Array[] = [];
    let offset = writer.write(big, 0);
    expect(offset).toBeLessThan(big.length);
    writer.commit();
    expect(reader.drain(out, 1)).toBe(0); // fragments only
    expect(reader.usedBytes()).toBe(0);
    while (offset < big.length) {
      offset = writer.write(big, offset);
      writer.commit();
      if (offset < big.length) reader.drain(out, 1);
    }
    expect(writer.write(small)).toBe(small.length);
    writer.commit();
    expect(reader.drain(out, 1)).toBe(1);
    expectSameMessages(out, [big]);
    expect(reader.drain(out, 1)).toBe(1);
    expectSameMessages(out, [big, small]);
  });
});

describe('u32 position wrap', () => {
  const START = 0xffffff00;

  it('carries messages across the 2^32 wrap of head and tail', () => {
    const rng = new Xorshift32(0x5eed_0004);
    const ring = makeRing(CAPACITY, START);
    expect(ring.reader.hasData()).toBe(false);
    expect(ring.writer.usedBytes()).toBe(0);

    // First a record that straddles the wrap point of the position counters.
    const straddler = patterned(1020, 1);
    expect(ring.writer.write(straddler)).toBe(1020);
    ring.writer.commit();
    expect(ring.reader.usedBytes()).toBe(1024);
    expect(controlWord(ring.sab, TAIL_INDEX)).toBe((START + 1024) >>> 0);
    const out: Uint8Array[] = [];
    expect(ring.reader.drain(out, ALL)).toBe(1);
    expect(ring.reader.usedBytes()).toBe(0);

    const messages = Array.from({ length: 500 }, () => rng.bytes(rng.range(0, CAPACITY / 4)));
    pump(ring, messages, out);
    expectSameMessages(out, [straddler, ...messages]);
    const expected = layout([1020, ...messages.map((m) => m.length)], START);
    expect(controlWord(ring.sab, TAIL_INDEX)).toBe(expected.end);
    expect(expected.end).toBeLessThan(START); // the counters wrapped
  });

  it('keeps usedBytes right while tail has wrapped and head has not', () => {
    const ring = makeRing(CAPACITY, START);
    for (let i = 0; i < 3; i++) ring.writer.write(patterned(CAPACITY / 4 - 4, i));
    ring.writer.commit();
    expect(controlWord(ring.sab, TAIL_INDEX)).toBeLessThan(controlWord(ring.sab, HEAD_INDEX));
    expect(ring.writer.usedBytes()).toBe(3 * CAPACITY / 4);
    expect(ring.writer.write(patterned(CAPACITY / 4, 9), 0)).toBe(0); // 1028 > 1024 free
  });

  it('reassembles a message bigger than the ring across the wrap', () => {
    const rng = new Xorshift32(0x5eed_0005);
    const ring = makeRing(CAPACITY, START);
    const messages = [rng.bytes(7 * CAPACITY + 3), patterned(1, 1), rng.bytes(2 * CAPACITY)];
    const out: Uint8Array[] = [];
    pump(ring, messages, out);
    expectSameMessages(out, messages);
  });
});

describe('waiting', () => {
  it('waitForData resolves at once when data is committed, and not for uncommitted writes', async () => {
    const { writer, reader } = makeRing();
    const pending = reader.waitForData();
    writer.write(patterned(4, 1));
    expect(await settledAfterATurn(pending)).toBe(false);
    writer.commit();
    await within(pending, WAIT_MS, 'waitForData after commit');
    await within(reader.waitForData(), WAIT_MS, 'waitForData with data already there');
  });

  it('interrupt() wakes a waiting reader and a waiting writer', async () => {
    const { writer, reader } = makeRing();
    const dataWait = reader.waitForData();
    for (let i = 0; i < 4; i++) writer.write(patterned(CAPACITY / 4 - 4, i));
    expect(writer.write(patterned(8, 5))).toBe(0);
    const spaceWait = writer.waitForSpace();
    expect(await settledAfterATurn(dataWait)).toBe(false);
    expect(await settledAfterATurn(spaceWait)).toBe(false);
    reader.interrupt();
    await within(Promise.all([dataWait, spaceWait]), WAIT_MS, 'interrupt');
  });

  it('waitForSpace resolves when the reader consumes, and at once if it already has', async () => {
    const { writer, reader } = makeRing();
    for (let i = 0; i < 4; i++) writer.write(patterned(CAPACITY / 4 - 4, i));
    writer.commit();
    const small = patterned(8, 5);
    expect(writer.write(small)).toBe(0);
    const spaceWait = writer.waitForSpace();
    expect(await settledAfterATurn(spaceWait)).toBe(false);
    const out: Uint8Array[] = [];
    reader.drain(out, 1);
    await within(spaceWait, WAIT_MS, 'waitForSpace after drain');
    expect(writer.write(small)).toBe(small.length);

    // Fill again; the reader consumes after the writer's failed attempt but
    // before it waits: the wait must not miss that.
    expect(writer.write(patterned(CAPACITY / 4 - 4, 6))).toBe(0);
    writer.commit();
    reader.drain(out, 1);
    await within(writer.waitForSpace(), WAIT_MS, 'waitForSpace after an earlier drain');
  });
});

// ---- across threads -----------------------------------------------------------

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST_RING = join(ROOT, 'dist/shared/ring.js');
const SOURCE_RING = join(ROOT, 'shared/ring.ts');

function messageFor(i: number): Uint8Array {
  let size: number;
  if (i % 997 === 0) size = 70_000; // bigger than the whole 64 KiB ring
  else if (i % 101 === 0) size = 20_000; // more than a quarter of the ring
  else size = 4 + ((i * 7919) % 300);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, i, true);
  for (let j = 4; j < size; j++) out[j] = (i * 31 + j * 7) & 0xff;
  return out;
}

describe('across threads', () => {
  beforeAll(() => {
    if (existsSync(DIST_RING) && statSync(DIST_RING).mtimeMs >= statSync(SOURCE_RING).mtimeMs) return;
    try {
      execSync('npm run build --silent', { cwd: ROOT, stdio: 'pipe' });
    } catch (error) {
      // tsc still emits on type errors elsewhere in the tree; only a missing ring.js is fatal.
      if (!existsSync(DIST_RING)) throw error;
    }
  });

  it('echoes 50,000 messages through a worker over two 64 KiB rings, in order, with none dropped', async () => {
    const TOTAL = 50_000;
    const RING_BYTES = 64 * 1024;
    const toWorker = createRing(RING_BYTES);
    const fromWorker = createRing(RING_BYTES);
    const worker = new Worker(new URL('./fixtures/ring-echo-worker.mjs', import.meta.url), {
      workerData: { inbound: toWorker, outbound: fromWorker, total: TOTAL },
    });
    const workerDone = new Promise<{ echoed: number; stalls: number }>((resolve, reject) => {
      worker.once('message', (value: { echoed: number; stalls: number }) => resolve(value));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`echo worker exited (${code}) before reporting`)));
    });

    let producerStalls = 0;
    const produce = async (): Promise<void> => {
      const writer = new RingWriter(toWorker);
      for (let i = 0; i < TOTAL; i++) {
        const message = messageFor(i);
        let offset = 0;
        for (;;) {
          offset = writer.write(message, offset);
          if (offset === message.length) break;
          writer.commit();
          producerStalls++;
          await writer.waitForSpace();
        }
        if (i % 64 === 63) writer.commit();
      }
      writer.commit();
    };

    let received = 0;
    const consume = async (): Promise<void> => {
      const reader = new RingReader(fromWorker);
      const frames: Uint8Array[] = [];
      while (received < TOTAL) {
        frames.length = 0;
        reader.drain(frames, 4096);
        if (frames.length === 0) {
          await reader.waitForData();
          continue;
        }
        for (const frame of frames) {
          const want = messageFor(received);
          if (!Buffer.from(frame).equals(Buffer.from(want))) {
            const got = frame.length >= 4 ? new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0, true) : -1;
            throw new Error(`echo ${received}: got message #${got} (${frame.length} bytes), want ${want.length} bytes`);
          }
          received++;
        }
      }
      expect(reader.hasData()).toBe(false);
    };

    try {
      const [, , report] = await within(
        Promise.all([produce(), consume(), workerDone]),
        50_000,
        `the echo of ${TOTAL} messages (received ${received})`,
      );
      expect(received).toBe(TOTAL);
      expect(report.echoed).toBe(TOTAL);
      // Messages larger than the ring cannot go in one write: both sides had to wait for space.
      expect(producerStalls).toBeGreaterThan(0);
      expect(report.stalls).toBeGreaterThan(0);
    } finally {
      worker.removeAllListeners('exit');
      await worker.terminate();
    }
  });
});
