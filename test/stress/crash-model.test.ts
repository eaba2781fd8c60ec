// The crash harness's own checks must be able to fail: a mixed, torn or
// foreign value is corrupt, an older or missing acknowledged write is lost,
// a version never sent is a phantom; later unacknowledged writes are fine.

import { describe, expect, it } from 'vitest';
import { CrashModel, decodeValue, encodeValue } from '../../stress/lib/crash-model.js';
import { slopePerMinute } from '../../stress/lib/rss-trend.js';

const KEY = CrashModel.keyName(0);

describe('crash values', () => {
  it('decode the version of exactly one write, and nothing else', () => {
    const v7 = encodeValue(KEY, 7, 100);
    const v8 = encodeValue(KEY, 8, 100);
    expect(decodeValue(KEY, v7)).toBe(7);
    expect(decodeValue(KEY, v7.slice(0, -1))).toBeNull();
    expect(decodeValue(KEY, v7.slice(0, 50) + v8.slice(50))).toBeNull();
    expect(decodeValue(CrashModel.keyName(1), encodeValue(CrashModel.keyName(1), 7, 100).replace(':7;', ':9;'))).toBeNull();
    expect(decodeValue(CrashModel.keyName(10), v7)).toBeNull();
  });
});

describe('crash model verdicts', () => {
  function modelWith(acked: number[], unacked: number[]): CrashModel {
    const model = new CrashModel(1);
    for (const _ of acked) {
      const v = model.begin(0);
      model.end(0, v, true);
    }
    for (const _ of unacked) {
      const v = model.begin(0);
      model.end(0, v, false);
    }
    return model;
  }

  it('accepts the last acknowledged write or a later unacknowledged one', () => {
    expect(modelWith([1, 2], []).verify(0, encodeValue(KEY, 2, 64)).verdict).toBe('ok');
    const later = modelWith([1], [2]).verify(0, encodeValue(KEY, 2, 64));
    expect(later).toMatchObject({ verdict: 'ok', unackedApplied: true });
    expect(modelWith([1], [2]).verify(0, encodeValue(KEY, 1, 64)).verdict).toBe('ok');
    expect(modelWith([], [1]).verify(0, null).verdict).toBe('ok');
  });

  it('flags lost, corrupt and phantom values', () => {
    expect(modelWith([1, 2], []).verify(0, encodeValue(KEY, 1, 64)).verdict).toBe('lost');
    expect(modelWith([1], []).verify(0, null).verdict).toBe('lost');
    expect(modelWith([1], []).verify(0, encodeValue(KEY, 1, 64).replace('1;', '2;')).verdict).toBe('corrupt');
    expect(modelWith([1], []).verify(0, encodeValue(KEY, 5, 64)).verdict).toBe('phantom');
  });

  it('takes what survived a restart as the next baseline', () => {
    const model = modelWith([1], [2]);
    model.verify(0, encodeValue(KEY, 2, 64));
    expect(model.verify(0, encodeValue(KEY, 1, 64)).verdict).toBe('lost');
  });
});

describe('RSS slope', () => {
  it('fits MiB per minute by least squares', () => {
    const rising = Array.from({ length: 61 }, (_, t) => ({ t, rssMiB: 100 + t * 0.5 + (t % 2 === 0 ? 1 : -1) }));
    expect(slopePerMinute(rising)).toBeCloseTo(30, 0);
    expect(slopePerMinute(Array.from({ length: 10 }, (_, t) => ({ t, rssMiB: 200 })))).toBe(0);
    expect(slopePerMinute([{ t: 0, rssMiB: 1 }])).toBeNull();
  });
});
