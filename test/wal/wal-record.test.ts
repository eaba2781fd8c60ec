import { describe, expect, it } from 'vitest';
import { decodeNext, encodeRecords, WAL_HEADER_BYTES, WAL_RECORD_BYTES_MAX } from '../../workers/wal/index.js';

describe('wal record framing', () => {
  it('round-trips many records from one buffer', () => {
    const buf = encodeRecords([
      { type: 1, lsn: 7, payload: Buffer.from('alpha') },
      { type: 255, lsn: 8n, payload: new Uint8Array(0) },
      { type: 0, lsn: Number.MAX_SAFE_INTEGER, payload: Buffer.from('omega') },
    ]);
    expect(buf.length).toBe(3 * WAL_HEADER_BYTES + 10);
    const seen: [number, number, string][] = [];
    let offset = 0;
    for (;;) {
      const r = decodeNext(buf, offset);
      if (r.kind !== 'record') {
        expect(r.kind).toBe('end');
        break;
      }
      seen.push([r.type, r.lsn, Buffer.from(r.payload).toString()]);
      offset = r.next;
    }
    expect(seen).toEqual([
      [1, 7, 'alpha'],
      [255, 8, ''],
      [0, Number.MAX_SAFE_INTEGER, 'omega'],
    ]);
  });

  it('reports a short header or payload as torn', () => {
    const buf = encodeRecords([{ type: 1, lsn: 1, payload: Buffer.from('hello') }]);
    expect(decodeNext(buf.subarray(0, 10), 0).kind).toBe('torn');
    expect(decodeNext(buf.subarray(0, buf.length - 1), 0).kind).toBe('torn');
  });

  it('reports a flipped bit or an absurd length as corrupt', () => {
    const buf = encodeRecords([{ type: 1, lsn: 1, payload: Buffer.from('hello') }]);
    const flipped = Buffer.from(buf);
    flipped[WAL_HEADER_BYTES + 2] ^= 0x10;
    expect(decodeNext(flipped, 0)).toMatchObject({ kind: 'corrupt', reason: expect.stringContaining('checksum') });
    const huge = Buffer.from(buf);
    huge.writeUInt32LE(WAL_RECORD_BYTES_MAX + 1, 4);
    expect(decodeNext(huge, 0)).toMatchObject({ kind: 'corrupt', reason: expect.stringContaining('length') });
  });

  it('rejects inputs it could never decode', () => {
    expect(() => encodeRecords([{ type: 256, lsn: 1, payload: new Uint8Array(0) }])).toThrow(RangeError);
    expect(() => encodeRecords([{ type: 1, lsn: -1, payload: new Uint8Array(0) }])).toThrow(RangeError);
  });
});
