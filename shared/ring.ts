// Single-producer single-consumer ring of framed messages in a
// SharedArrayBuffer: the data plane between the router and one shard.
//
// Layout: a 256-byte control block (head, tail and a writer-waiting flag, each
// on its own cache line) then `capacity` bytes of records. A record is
// [u32 header][bytes, padded to 4]; the header holds the length and a MORE bit.
// A message that fits is one record; a message larger than a quarter of the
// ring is cut into fragments (MORE set on all but the last) so that a value
// bigger than the ring still crosses without the ring growing. Positions are
// free-running u32 byte counters; capacity is a power of two.
//
// Waiting never spins: the reader waits on the tail and the writer on the head
// with Atomics.waitAsync, so neither thread's event loop blocks. Each side
// raises a waiting flag before it sleeps and the other side notifies only when
// the flag is up: waking a waitAsync costs several microseconds, and a peer
// that is busy draining will see the new data without being told.

const HEAD = 0;
const TAIL = 16;
const WRITER_WAITING = 32;
const READER_WAITING = 48;
const CONTROL_BYTES = 256;
const MORE = 0x80000000;
const LENGTH_MASK = 0x7fffffff;
const FRAGMENT_BYTES_MIN = 256;

export function ringBytesFor(capacity: number): number {
  if (capacity < 4096 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two >= 4096, got ${capacity}`);
  }
  return CONTROL_BYTES + capacity;
}

export function createRing(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(ringBytesFor(capacity));
}

const align4 = (n: number): number => (n + 3) & ~3;

class RingView {
  protected readonly control: Int32Array;
  protected readonly data: Uint8Array;
  protected readonly words: Uint32Array;
  readonly capacity: number;
  protected readonly mask: number;

  constructor(sab: SharedArrayBuffer) {
    this.capacity = sab.byteLength - CONTROL_BYTES;
    ringBytesFor(this.capacity);
    this.control = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.data = new Uint8Array(sab, CONTROL_BYTES, this.capacity);
    this.words = new Uint32Array(sab, CONTROL_BYTES, this.capacity / 4);
    this.mask = this.capacity - 1;
  }

  /** Wakes any waitAsync on this ring (used when its peer is gone for good). */
  interrupt(): void {
    Atomics.notify(this.control, HEAD);
    Atomics.notify(this.control, TAIL);
  }

  /** Bytes currently in the ring (written and not yet consumed). */
  usedBytes(): number {
    return (Atomics.load(this.control, TAIL) - Atomics.load(this.control, HEAD)) >>> 0;
  }
}

export class RingWriter extends RingView {
  private tail: number;
  private head: number;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.tail = Atomics.load(this.control, TAIL) >>> 0;
    this.head = Atomics.load(this.control, HEAD) >>> 0;
  }

  /**
   * Writes as much of `message` (from byte `offset`) as the ring takes now and
   * returns the new offset; `message.length` means it is all in. Nothing is
   * visible to the reader until commit().
   */
  write(message: Uint8Array, offset = 0): number {
    if (message.length === 0) throw new RangeError('ring messages are never empty (a frame has at least its id)');
    const remaining = message.length - offset;
    let free = this.free();
    if (4 + align4(remaining) <= free) {
      this.putRecord(message, offset, remaining, false);
      return message.length;
    }
    if (remaining <= this.capacity / 4) return offset;
    free = free - 4;
    if (free < FRAGMENT_BYTES_MIN) return offset;
    const take = Math.min(free & ~3, remaining);
    this.putRecord(message, offset, take, take < remaining);
    return offset + take;
  }

  /** Publishes everything written since the last commit and wakes the reader once. */
  commit(): void {
    if ((Atomics.load(this.control, TAIL) >>> 0) === this.tail) return;
    Atomics.store(this.control, TAIL, this.tail | 0);
    // Sequentially consistent store-then-load on both sides (Dekker): either
    // the reader sees the new tail before sleeping or we see its flag here.
    if (Atomics.load(this.control, READER_WAITING) !== 0) {
      Atomics.store(this.control, READER_WAITING, 0);
      Atomics.notify(this.control, TAIL);
    }
  }

  /** Resolves once the reader has consumed something since this writer last looked. */
  waitForSpace(): Promise<void> {
    Atomics.store(this.control, WRITER_WAITING, 1);
    const head = Atomics.load(this.control, HEAD);
    if ((head >>> 0) !== this.head) return Promise.resolve();
    const result = Atomics.waitAsync(this.control, HEAD, head);
    return result.async ? result.value.then(() => undefined) : Promise.resolve();
  }

  private free(): number {
    this.head = Atomics.load(this.control, HEAD) >>> 0;
    return this.capacity - ((this.tail - this.head) >>> 0);
  }

  private putRecord(message: Uint8Array, offset: number, length: number, more: boolean): void {
    const at = this.tail & this.mask;
    this.words[at >>> 2] = (length | (more ? MORE : 0)) >>> 0;
    const start = (at + 4) & this.mask;
    const firstPart = Math.min(length, this.capacity - start);
    this.data.set(message.subarray(offset, offset + firstPart), start);
    if (firstPart < length) this.data.set(message.subarray(offset + firstPart, offset + length), 0);
    this.tail = (this.tail + 4 + align4(length)) >>> 0;
  }
}

export class RingReader extends RingView {
  private head: number;
  private fragments: Uint8Array[] = [];

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.head = Atomics.load(this.control, HEAD) >>> 0;
  }

  /**
   * Copies out up to `max` complete messages, frees their space and wakes a
   * waiting writer. Returns how many messages were appended to `out`.
   */
  drain(out: Uint8Array[], max: number): number {
    const tail = Atomics.load(this.control, TAIL) >>> 0;
    let count = 0;
    while (this.head !== tail && count < max) {
      const at = this.head & this.mask;
      const header = this.words[at >>> 2];
      const length = header & LENGTH_MASK;
      const bytes = this.copyOut((at + 4) & this.mask, length);
      this.head = (this.head + 4 + align4(length)) >>> 0;
      if ((header & MORE) !== 0) {
        this.fragments.push(bytes);
        continue;
      }
      out.push(this.fragments.length === 0 ? bytes : this.joinFragments(bytes));
      count++;
    }
    this.release();
    return count;
  }

  /** True when a record is waiting to be read. */
  hasData(): boolean {
    return (Atomics.load(this.control, TAIL) >>> 0) !== this.head;
  }

  /** Resolves when the writer commits something new; never blocks the event loop. */
  waitForData(): Promise<void> {
    if ((Atomics.load(this.control, TAIL) >>> 0) !== this.head) return Promise.resolve();
    Atomics.store(this.control, READER_WAITING, 1);
    const tail = Atomics.load(this.control, TAIL);
    if ((tail >>> 0) !== this.head) {
      Atomics.store(this.control, READER_WAITING, 0);
      return Promise.resolve();
    }
    const result = Atomics.waitAsync(this.control, TAIL, tail);
    return result.async ? result.value.then(() => undefined) : Promise.resolve();
  }

  /** Resolves a pending waitForData() now (from the reader's own thread), e.g. when held work became runnable. */
  wake(): void {
    Atomics.notify(this.control, TAIL);
  }

  private release(): void {
    if ((Atomics.load(this.control, HEAD) >>> 0) === this.head) return;
    Atomics.store(this.control, HEAD, this.head | 0);
    if (Atomics.load(this.control, WRITER_WAITING) !== 0) {
      Atomics.store(this.control, WRITER_WAITING, 0);
      Atomics.notify(this.control, HEAD);
    }
  }

  private copyOut(start: number, length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    const firstPart = Math.min(length, this.capacity - start);
    bytes.set(this.data.subarray(start, start + firstPart), 0);
    if (firstPart < length) bytes.set(this.data.subarray(0, length - firstPart), firstPart);
    return bytes;
  }

  private joinFragments(last: Uint8Array): Uint8Array {
    this.fragments.push(last);
    let total = 0;
    for (const part of this.fragments) total += part.length;
    const whole = new Uint8Array(total);
    let at = 0;
    for (const part of this.fragments) { whole.set(part, at); at += part.length; }
    this.fragments = [];
    return whole;
  }
}
