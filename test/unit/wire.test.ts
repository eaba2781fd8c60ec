// shared/wire.ts: request, response and WAL payload codecs.
import { describe, expect, it } from 'vitest';
import { ByteWriter, FrameError } from '../../shared/byte-io.js';
import {
  decodeRequest,
  decodeResponse,
  decodeWriteOps,
  encodeRequest,
  encodeResponse,
  encodeWriteOps,
  frameId,
  isWriteRequest,
  type DeleteOp,
  type PutOp,
  type ShardRequest,
  type ShardResponse,
} from '../../shared/wire.js';
import { Xorshift32 } from './support/prng.js';

const u8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));
const bin = (...bytes: number[]): Uint8Array => Uint8Array.from(bytes);
const allBytes = (): Uint8Array => Uint8Array.from({ length: 256 }, (_, i) => i);
const EXPIRY = 1_893_456_000_123; // a plausible absolute expiry in ms

const put = (key: Uint8Array, value: Uint8Array, contentType = 'application/octet-stream', expiresAtMs = 0): PutOp => ({
  kind: 'put',
  key,
  contentType,
  expiresAtMs,
  value,
});

const REQUESTS: ReadonlyArray<readonly [string, ShardRequest]> = [
  ['get', { kind: 'get', key: u8('user:1') }],
  ['invalidate by keys', { kind: 'invalidate', reason: 'explicit', prefix: null, fromSlot: 0, slotBudget: 0, keys: [u8('user:1'), u8('ключ/😀'), bin(0, 0xff)] }],
  ['invalidate by prefix (cascade)', { kind: 'invalidate', reason: 'cascade', prefix: u8('user:'), fromSlot: 131072, slotBudget: 65536, keys: [] }],
  ['invalidate by the empty prefix', { kind: 'invalidate', reason: 'explicit', prefix: new Uint8Array(0), fromSlot: 0, slotBudget: 1, keys: [] }],
  ['get of a binary key', { kind: 'get', key: bin(0, 0xff, 0x7b, 0x7d, 0x80) }],
  ['head', { kind: 'head', key: u8('ключ/😀') }],
  ['put with a binary value', put(u8('k'), allBytes(), 'image/png', EXPIRY)],
  ['put with an empty value', put(u8('empty'), new Uint8Array(0))],
  ['put with a large value', put(u8('big'), new Uint8Array(300_000).fill(0xa5), 'text/plain; charset=utf-8')],
  ['delete', { kind: 'delete', key: u8('gone') }],
  ['list without cursor', { kind: 'list', prefix: u8('user:'), after: null, skip: 0, limit: 100, wantTotal: true }],
  ['list with cursor', { kind: 'list', prefix: u8('user:'), after: u8('user:42'), skip: 7, limit: 1000, wantTotal: false }],
  ['list with an empty prefix and cursor', { kind: 'list', prefix: new Uint8Array(0), after: bin(0xff, 0xff), skip: 0xffffffff, limit: 1, wantTotal: true }],
  [
    'batch with mixed ops',
    {
      kind: 'batch',
      ops: [
        { kind: 'get', key: u8('a') },
        put(u8('b'), bin(0, 1, 2, 255), 'application/json', EXPIRY),
        { kind: 'delete', key: u8('c') },
        put(u8('d'), new Uint8Array(0)),
        { kind: 'get', key: bin(0xff) },
      ],
    },
  ],
  ['empty batch', { kind: 'batch', ops: [] }],
];

const RESPONSES: ReadonlyArray<readonly [string, ShardResponse]> = [
  ['value', { kind: 'value', contentType: 'image/png', expiresAtMs: EXPIRY, value: allBytes() }],
  ['value, empty, no expiry', { kind: 'value', contentType: 'application/octet-stream', expiresAtMs: 0, value: new Uint8Array(0) }],
  ['missing', { kind: 'missing' }],
  ['invalidated', { kind: 'invalidated', removed: 1234, nextSlot: 65536 }],
  ['invalidated, done', { kind: 'invalidated', removed: 0, nextSlot: -1 }],
  ['done', { kind: 'done' }],
  ['deleted (existed)', { kind: 'deleted', existed: true }],
  ['deleted (absent)', { kind: 'deleted', existed: false }],
  ['meta', { kind: 'meta', contentType: 'text/plain', expiresAtMs: EXPIRY, size: 16 * 1024 * 1024 }],
  ['keys', { kind: 'keys', keys: [u8('a'), bin(0, 0xff), u8('ключ')], total: 12345, more: true }],
  ['keys, none', { kind: 'keys', keys: [], total: 0, more: false }],
  [
    'results',
    {
      kind: 'results',
      results: [
        { kind: 'value', contentType: 'text/plain', expiresAtMs: 0, value: u8('hello') },
        { kind: 'missing' },
        { kind: 'done' },
        { kind: 'deleted', existed: true },
        { kind: 'deleted', existed: false },
      ],
    },
  ],
  ['results, none', { kind: 'results', results: [] }],
  ['error', { kind: 'error', code: 'STORAGE_FULL', message: 'disk full — ünïcode' }],
];

/** Frames larger than the encoder's first buffer guess: the writer must grow. */
const LARGE_REQUESTS: ReadonlyArray<readonly [string, ShardRequest]> = [
  ['get with a 1024-byte key', { kind: 'get', key: new Uint8Array(1024).fill(0x6b) }],
  ['head with a 200-byte key', { kind: 'head', key: new Uint8Array(200).fill(0x6b) }],
  ['delete with a 1024-byte key', { kind: 'delete', key: new Uint8Array(1024).fill(0x6b) }],
  [
    'list with a 1024-byte prefix and cursor',
    { kind: 'list', prefix: new Uint8Array(1024).fill(0x70), after: new Uint8Array(1024).fill(0x71), skip: 0, limit: 10, wantTotal: true },
  ],
  [
    'batch of 1000 ops',
    {
      kind: 'batch',
      ops: Array.from({ length: 1000 }, (_, i) =>
        i % 3 === 0 ? put(u8(`key-${i}`), u8(`value-${i}`)) : { kind: i % 3 === 1 ? 'get' : 'delete', key: u8(`key-${i}`) },
      ),
    },
  ],
];

const LARGE_RESPONSES: ReadonlyArray<readonly [string, ShardResponse]> = [
  ['keys, 1000 of them', { kind: 'keys', keys: Array.from({ length: 1000 }, (_, i) => u8(`user:${i}:profile`)), total: 5000, more: true }],
  ['results holding a 64 KiB value', { kind: 'results', results: [{ kind: 'value', contentType: 'text/plain', expiresAtMs: 0, value: new Uint8Array(65536).fill(7) }] }],
  ['meta with a 255-byte content type', { kind: 'meta', contentType: 'a'.repeat(255), expiresAtMs: 0, size: 1 }],
  ['error with a 1000-character message', { kind: 'error', code: 'STORAGE_IO', message: 'e'.repeat(1000) }],
];

/** Bytes as plain arrays so comparisons do not depend on Buffer vs Uint8Array or shared backing stores. */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

function expectFrameError(fn: () => unknown, what: string): void {
  let thrown: unknown = null;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof FrameError)) {
    expect.fail(`${what}: expected a FrameError, got ${thrown === null ? 'no error' : String(thrown)}`);
  }
}

describe('requests', () => {
  it.each(REQUESTS)('round-trips %s', (_, request) => {
    const frame = encodeRequest(0xdeadbeef, request);
    const decoded = decodeRequest(frame);
    expect(decoded.id).toBe(0xdeadbeef);
    expect(decoded.deadlineMs).toBe(0);
    expect(frameId(frame)).toBe(0xdeadbeef);
    expect(normalise(decoded.request)).toEqual(normalise(request));
  });

  it.each(REQUESTS)('carries an absolute deadline with %s', (_, request) => {
    const deadlineMs = 1_800_000_000_123.5;
    const decoded = decodeRequest(encodeRequest(3, request, deadlineMs));
    expect(decoded.deadlineMs).toBe(deadlineMs);
    expect(normalise(decoded.request)).toEqual(normalise(request));
  });

  it('throws FrameError for a deadline that is negative, NaN or infinite', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const frame = encodeRequest(4, { kind: 'get', key: u8('a') });
      new DataView(frame.buffer, frame.byteOffset).setFloat64(5, bad, true);
      expectFrameError(() => decodeRequest(frame), `deadline ${bad}`);
    }
  });

  it.each(LARGE_REQUESTS)('round-trips %s (larger than the first buffer guess)', (_, request) => {
    const decoded = decodeRequest(encodeRequest(1, request));
    expect(normalise(decoded.request)).toEqual(normalise(request));
  });

  it.each(REQUESTS.filter(([, r]) => r.kind !== 'put'))('throws FrameError for every truncation of %s', (name, request) => {
    const frame = encodeRequest(7, request);
    for (let length = 0; length < frame.length; length++) {
      expectFrameError(() => decodeRequest(frame.subarray(0, length)), `${name} cut to ${length}/${frame.length}`);
      expectFrameError(() => decodeRequest(frame.slice(0, length)), `${name} copied cut to ${length}/${frame.length}`);
    }
  });

  it('throws FrameError for a put cut inside its header; a cut value is the rest of the frame', () => {
    const request = put(u8('key'), u8('value-bytes'), 'text/plain', EXPIRY);
    const frame = encodeRequest(9, request);
    const headerBytes = 4 + 1 + 8 + 2 + 3 + 2 + 'text/plain'.length + 8;
    expect(frame.length).toBe(headerBytes + request.value.length);
    for (let length = 0; length < headerBytes; length++) {
      expectFrameError(() => decodeRequest(frame.subarray(0, length)), `put cut to ${length}`);
    }
    // The put value has no length of its own: it is the remainder of the frame.
    const decoded = decodeRequest(frame.subarray(0, headerBytes + 5)).request;
    expect(decoded.kind).toBe('put');
    if (decoded.kind === 'put') expect(Buffer.from(decoded.value).toString()).toBe('value');
  });

  it('throws FrameError for unknown op codes, including inside a batch', () => {
    expectFrameError(() => decodeRequest(bin(1, 0, 0, 0, 0)), 'op 0');
    expectFrameError(() => decodeRequest(bin(1, 0, 0, 0, 7)), 'op 7');
    expectFrameError(() => decodeRequest(bin(1, 0, 0, 0, 0xff)), 'op 255');
    const head = encodeRequest(1, { kind: 'head', key: u8('x') });
    const headOp = [head[4], ...head.subarray(13)];
    const batchWithHead = new Uint8Array([1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, ...headOp]);
    expectFrameError(() => decodeRequest(batchWithHead), 'a head op inside a batch');
    expectFrameError(() => frameId(bin(1, 2, 3)), 'frameId of 3 bytes');
  });

  it('classifies write requests', () => {
    expect(isWriteRequest({ kind: 'get', key: u8('a') })).toBe(false);
    expect(isWriteRequest({ kind: 'head', key: u8('a') })).toBe(false);
    expect(isWriteRequest({ kind: 'list', prefix: u8(''), after: null, skip: 0, limit: 1, wantTotal: false })).toBe(false);
    expect(isWriteRequest(put(u8('a'), u8('v')))).toBe(true);
    expect(isWriteRequest({ kind: 'delete', key: u8('a') })).toBe(true);
    expect(isWriteRequest({ kind: 'invalidate', reason: 'explicit', prefix: null, fromSlot: 0, slotBudget: 0, keys: [u8('a')] })).toBe(false);
    expect(isWriteRequest({ kind: 'batch', ops: [{ kind: 'get', key: u8('a') }] })).toBe(false);
    expect(isWriteRequest({ kind: 'batch', ops: [{ kind: 'get', key: u8('a') }, { kind: 'delete', key: u8('b') }] })).toBe(true);
  });
});

describe('responses', () => {
  it.each(RESPONSES)('round-trips %s', (_, response) => {
    const frame = encodeResponse(0xffffffff, response);
    const decoded = decodeResponse(frame);
    expect(decoded.id).toBe(0xffffffff);
    expect(normalise(decoded.response)).toEqual(normalise(response));
  });

  it.each(LARGE_RESPONSES)('round-trips %s (larger than the first buffer guess)', (_, response) => {
    const decoded = decodeResponse(encodeResponse(2, response));
    expect(normalise(decoded.response)).toEqual(normalise(response));
  });

  it.each(RESPONSES)('throws FrameError for every truncation of %s', (name, response) => {
    const frame = encodeResponse(3, response);
    for (let length = 0; length < frame.length; length++) {
      expectFrameError(() => decodeResponse(frame.subarray(0, length)), `${name} cut to ${length}/${frame.length}`);
    }
  });

  it('maps an unknown error code to INTERNAL and keeps the message', () => {
    const frame = encodeResponse(1, { kind: 'error', code: 'INTERNAL', message: 'm' });
    // Rewrite the code string "INTERNAL" to "NOPENOPE" (same length).
    const patched = Buffer.from(frame);
    patched.write('NOPENOPE', 4 + 1 + 2, 'latin1');
    const decoded = decodeResponse(patched).response;
    expect(decoded).toEqual({ kind: 'error', code: 'INTERNAL', message: 'm' });
  });

  it('throws FrameError for unknown kinds, including a nested non-result kind', () => {
    expectFrameError(() => decodeResponse(bin(1, 0, 0, 0, 0)), 'kind 0');
    expectFrameError(() => decodeResponse(bin(1, 0, 0, 0, 9)), 'kind 9');
    // results with one entry whose kind is "meta" (5), which is not a batch result
    expectFrameError(() => decodeResponse(bin(1, 0, 0, 0, 7, 1, 0, 0, 0, 5)), 'meta nested in results');
  });

  it('never silently corrupts a u16-length field longer than 65535 bytes', () => {
    // A raw field that long is refused; an error message is capped (it is for
    // people) so it always fits and decodes to a true prefix.
    expect(() => new ByteWriter().shortBytes(new Uint8Array(70_000))).toThrow(RangeError);
    const message = 'x'.repeat(70_000) + 'tail';
    const decoded = decodeResponse(encodeResponse(1, { kind: 'error', code: 'STORAGE_IO', message })).response;
    expect(decoded.kind).toBe('error');
    const text = decoded.kind === 'error' ? decoded.message : '';
    expect(text.length).toBe(4096);
    expect(message.startsWith(text)).toBe(true);
  });
});

describe('WAL write ops', () => {
  const OPS: (PutOp | DeleteOp)[] = [
    put(u8('a'), allBytes(), 'application/x-thing', EXPIRY),
    { kind: 'delete', key: u8('b') },
    put(bin(0xff, 0), new Uint8Array(0)),
    put(u8('ключ'), u8('значение'), 'text/plain; charset=utf-8'),
  ];

  it('round-trips puts and deletes', () => {
    expect(normalise(decodeWriteOps(encodeWriteOps(OPS)))).toEqual(normalise(OPS));
    expect(decodeWriteOps(encodeWriteOps([]))).toEqual([]);
  });

  it('throws FrameError for every truncation', () => {
    const payload = encodeWriteOps(OPS);
    for (let length = 0; length < payload.length; length++) {
      expectFrameError(() => decodeWriteOps(payload.subarray(0, length)), `cut to ${length}/${payload.length}`);
    }
  });

  it('rejects a get op in a WAL record', () => {
    const batch = encodeRequest(0, { kind: 'batch', ops: [{ kind: 'get', key: u8('a') }] });
    expectFrameError(() => decodeWriteOps(batch.subarray(13)), 'get in WAL');
  });
});

describe('garbage', () => {
  it('decoders either decode random bytes or throw FrameError, never anything else', () => {
    const rng = new Xorshift32(0xbad);
    const decoders: ReadonlyArray<readonly [string, (frame: Uint8Array) => unknown]> = [
      ['decodeRequest', decodeRequest],
      ['decodeResponse', decodeResponse],
      ['decodeWriteOps', decodeWriteOps],
    ];
    for (let i = 0; i < 5000; i++) {
      const frame = rng.bytes(rng.range(0, 40));
      // Small counts and kinds make the fuzz reach deeper into the decoders.
      if (frame.length > 5 && rng.chance(0.7)) frame[4] = rng.range(1, 8);
      for (const [name, decode] of decoders) {
        try {
          decode(frame);
        } catch (error) {
          if (!(error instanceof FrameError)) expect.fail(`${name}(${Buffer.from(frame).toString('hex')}) threw ${String(error)}`);
        }
      }
    }
  });
});
