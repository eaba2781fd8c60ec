import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { segmentFileName } from '../../workers/wal/index.js';
import { makeTempDir, openWriter, payloadFor, removeDir, replayAll, writeSegment } from './wal-helpers.js';

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('wal replay', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('round-trips many records across several segments', async () => {
    const { writer } = openWriter(dir, { segmentBytesMax: 512 });
    const expected: string[] = [];
    for (let i = 0; i < 300; i += 3) {
      const records = [i, i + 1, i + 2].map((n) => ({ type: n % 7, payload: payloadFor(n + 1) }));
      writer.append(records);
      expected.push(...records.map((r) => Buffer.from(r.payload).toString()));
    }
    expect(writer.stats().segment).toBeGreaterThan(3);
    await writer.close();

    const { result, lsns, payloads } = replayAll(dir);
    expect(result.truncated).toBeNull();
    expect(result.records).toBe(300);
    expect(result.segments).toBeGreaterThan(3);
    expect(result.lastLsn).toBe(300);
    expect(lsns).toEqual(range(1, 300));
    expect(payloads).toEqual(expected);
  });

  it('passes each record\'s segment number (gaps from retired segments included)', () => {
    writeSegment(dir, 3, range(1, 2));
    writeSegment(dir, 7, range(3, 5));
    writeSegment(dir, 8, range(6, 6));
    const { lsns, segments } = replayAll(dir);
    expect(lsns).toEqual(range(1, 6));
    expect(segments).toEqual([3, 3, 7, 7, 7, 8]);
  });

  it('truncates a torn tail at the last whole record', () => {
    writeSegment(dir, 1, range(1, 5));
    const { file, offsets } = writeSegment(dir, 2, range(6, 10));
    const size = fs.statSync(file).size;
    fs.truncateSync(file, size - 3);

    const { result, lsns, logs } = replayAll(dir);
    expect(lsns).toEqual(range(1, 9));
    expect(result.lastLsn).toBe(9);
    expect(result.truncated).toMatchObject({
      segment: segmentFileName(2),
      offset: offsets[4],
      droppedBytes: size - 3 - offsets[4],
    });
    expect(result.truncated?.reason).toMatch(/^torn/);
    expect(fs.statSync(file).size).toBe(offsets[4]);
    expect(logs.some((l) => l.level === 'warn')).toBe(true);
    // The repaired log replays cleanly.
    expect(replayAll(dir).result.truncated).toBeNull();
  });

  it('stops at a bad checksum in the middle of the last segment', () => {
    writeSegment(dir, 1, range(1, 4));
    const { file, offsets } = writeSegment(dir, 2, range(5, 12));
    const bytes = fs.readFileSync(file);
    bytes[offsets[3] + 20] ^= 0xff;
    fs.writeFileSync(file, bytes);

    const { result, lsns } = replayAll(dir);
    expect(lsns).toEqual(range(1, 7));
    expect(result.truncated?.reason).toMatch(/^corrupt: checksum/);
    expect(result.truncated?.offset).toBe(offsets[3]);
    expect(result.truncated?.droppedBytes).toBe(bytes.length - offsets[3]);
    expect(fs.statSync(file).size).toBe(offsets[3]);
  });

  it('drops the segments after corruption in an earlier one', () => {
    const { file, offsets } = writeSegment(dir, 1, range(1, 5));
    writeSegment(dir, 2, range(6, 10));
    writeSegment(dir, 3, range(11, 15));
    const later = [2, 3].map((s) => fs.statSync(path.join(dir, segmentFileName(s))).size);
    const bytes = fs.readFileSync(file);
    bytes[offsets[2] + 18] ^= 0x01;
    fs.writeFileSync(file, bytes);

    const { result, lsns, logs } = replayAll(dir);
    expect(lsns).toEqual([1, 2]);
    expect(result.truncated?.reason).toMatch(/^corrupt: checksum/);
    expect(result.truncated?.droppedBytes).toBe(bytes.length - offsets[2] + later[0] + later[1]);
    expect(fs.readdirSync(dir).sort()).toEqual([
      segmentFileName(1),
      `${segmentFileName(2)}.dropped`,
      `${segmentFileName(3)}.dropped`,
    ]);
    expect(logs.filter((l) => l.msg.includes('dropped segment'))).toHaveLength(2);
    // The writer continues after every name ever used, and LSNs continue from the valid prefix.
    expect(result.lastSegment).toBe(3);
    const { writer, replayed } = openWriter(dir);
    expect(replayed.lsns).toEqual([1, 2]);
    expect(writer.append([{ type: 1, payload: payloadFor(3) }])).toBe(3);
    expect(writer.stats().segment).toBe(4);
    return writer.close();
  });

  it('treats a non-increasing lsn as corruption', () => {
    writeSegment(dir, 1, range(1, 5));
    writeSegment(dir, 2, [6, 7, 3, 8]);
    const { result, lsns } = replayAll(dir);
    expect(lsns).toEqual(range(1, 7));
    expect(result.truncated?.reason).toMatch(/lsn 3 not above previous 7/);
  });

  it('accepts empty segment files', () => {
    writeSegment(dir, 1, range(1, 3));
    fs.writeFileSync(path.join(dir, segmentFileName(2)), Buffer.alloc(0));
    writeSegment(dir, 3, range(4, 6));
    fs.writeFileSync(path.join(dir, segmentFileName(4)), Buffer.alloc(0));
    const { result, lsns } = replayAll(dir);
    expect(lsns).toEqual(range(1, 6));
    expect(result).toMatchObject({ segments: 4, lastSegment: 4, lastLsn: 6, truncated: null });
  });

  it('treats a missing directory as an empty log and creates nothing', () => {
    const missing = path.join(dir, 'not-here');
    const { result, lsns } = replayAll(missing);
    expect(lsns).toEqual([]);
    expect(result).toEqual({ segments: 0, records: 0, bytes: 0, lastLsn: 0, lastSegment: 0, truncated: null });
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('keeps lsns increasing across close and reopen', async () => {
    const sub = path.join(dir, 'nested', 'wal');
    const first = openWriter(sub).writer;
    expect(first.append([{ type: 1, payload: payloadFor(1) }, { type: 1, payload: payloadFor(2) }])).toBe(2);
    await first.close();
    expect(() => first.append([{ type: 1, payload: payloadFor(3) }])).toThrow(/closed/);

    const { writer: second, replayed } = openWriter(sub);
    expect(replayed.lsns).toEqual([1, 2]);
    expect(second.append([{ type: 1, payload: payloadFor(3) }])).toBe(3);
    expect(second.stats().segment).toBe(2);
    await second.close();

    const third = openWriter(sub);
    expect(third.replayed.lsns).toEqual([1, 2, 3]);
    expect(third.writer.append([{ type: 1, payload: payloadFor(4) }])).toBe(4);
    await third.writer.close();
  });
});
