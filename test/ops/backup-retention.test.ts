// Backup retention (src/ops/retention.ts) with synthetic dates: --backup-keep-last,
// --backup-keep-daily and --backup-keep-weekly as restic's forget counts them
// (the newest N; the newest of each of the last D days that have backups; the
// newest of each of the last W ISO weeks that have backups; a backup kept by
// any rule stays), all zero keeps everything, and the ISO week labels.

import { describe, expect, it } from 'vitest';
import { isoWeek, pruneList } from '../../src/ops/retention.js';

type Item = { id: string; createdAt: number };
const at = (iso: string): Item => ({ id: iso, createdAt: Date.parse(iso) });
const none = { keepLast: 0, keepDaily: 0, keepWeekly: 0 };
/** The ids kept (items minus pruneList's answer), oldest first. */
function kept(items: readonly Item[], r: Partial<typeof none>): string[] {
  const doomed = pruneList(items, { ...none, ...r });
  expect(new Set(doomed).size, 'no id twice').toBe(doomed.length);
  for (const id of doomed) expect(items.map((i) => i.id)).toContain(id);
  return items.map((i) => i.id).filter((id) => !doomed.includes(id)).sort();
}

/** Three backups a day (02:00, 10:00, 23:59:59.999 UTC) over 5 consecutive days, shuffled. */
const FIVE_DAYS = ['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06']
  .flatMap((d) => [`${d}T02:00:00.000Z`, `${d}T10:00:00.000Z`, `${d}T23:59:59.999Z`])
  .map(at)
  .sort((a, b) => (a.id.charCodeAt(12) ^ 7) - (b.id.charCodeAt(12) ^ 7) || (a.id < b.id ? 1 : -1));

describe('pruneList', () => {
  it('keeps everything when every count is 0', () => {
    expect(pruneList(FIVE_DAYS, none)).toEqual([]);
    expect(pruneList([], none)).toEqual([]);
  });

  it('keep-last N: the newest N, whatever the input order', () => {
    expect(kept(FIVE_DAYS, { keepLast: 2 })).toEqual(['2026-03-06T10:00:00.000Z', '2026-03-06T23:59:59.999Z']);
    expect(kept(FIVE_DAYS, { keepLast: 100 })).toHaveLength(15);
    expect(kept([at('2026-01-01T00:00:00.000Z')], { keepLast: 1 })).toEqual(['2026-01-01T00:00:00.000Z']);
  });

  it('keep-daily 3 over 5 days with several backups a day: the newest of each of the 3 newest days', () => {
    expect(kept(FIVE_DAYS, { keepDaily: 3 })).toEqual(['2026-03-04T23:59:59.999Z', '2026-03-05T23:59:59.999Z', '2026-03-06T23:59:59.999Z']);
  });

  it('keep-daily counts days that have backups, not calendar days', () => {
    const gappy = ['2026-03-01T05:00:00.000Z', '2026-03-01T06:00:00.000Z', '2026-03-03T05:00:00.000Z', '2026-03-09T05:00:00.000Z', '2026-03-09T04:00:00.000Z', '2026-03-10T00:00:00.000Z'].map(at);
    expect(kept(gappy, { keepDaily: 3 })).toEqual(['2026-03-03T05:00:00.000Z', '2026-03-09T05:00:00.000Z', '2026-03-10T00:00:00.000Z']);
    expect(kept(gappy, { keepDaily: 10 })).toEqual(['2026-03-01T06:00:00.000Z', '2026-03-03T05:00:00.000Z', '2026-03-09T05:00:00.000Z', '2026-03-10T00:00:00.000Z']);
  });

  it('keep-weekly 2: the newest of each of the 2 newest ISO weeks (Monday to Sunday, UTC)', () => {
    const weeks = [
      '2026-02-16T12:00:00.000Z', // Mon, W08
      '2026-02-22T23:00:00.000Z', // Sun, W08
      '2026-02-23T00:00:00.000Z', // Mon, W09
      '2026-02-27T00:00:00.000Z', // Fri, W09
      '2026-03-01T23:59:59.000Z', // Sun, W09 (newest of W09)
      '2026-03-02T00:00:00.000Z', // Mon, W10
      '2026-03-04T09:00:00.000Z', // Wed, W10 (newest of W10)
    ].map(at);
    expect(kept(weeks, { keepWeekly: 2 })).toEqual(['2026-03-01T23:59:59.000Z', '2026-03-04T09:00:00.000Z']);
    expect(kept(weeks, { keepWeekly: 3 })).toEqual(['2026-02-22T23:00:00.000Z', '2026-03-01T23:59:59.000Z', '2026-03-04T09:00:00.000Z']);
  });

  it('keep-weekly across a new year: an ISO week that spans it is one week', () => {
    const items = ['2026-12-28T10:00:00.000Z', '2026-12-31T10:00:00.000Z', '2027-01-03T10:00:00.000Z', '2027-01-04T10:00:00.000Z', '2027-01-05T10:00:00.000Z'].map(at);
    // 2026-12-28 … 2027-01-03 is ISO week 2026-W53; 2027-01-04 starts 2027-W01.
    expect(kept(items, { keepWeekly: 2 })).toEqual(['2027-01-03T10:00:00.000Z', '2027-01-05T10:00:00.000Z']);
    expect(kept(items, { keepWeekly: 1 })).toEqual(['2027-01-05T10:00:00.000Z']);
  });

  it('rules combine as a union', () => {
    expect(kept(FIVE_DAYS, { keepLast: 2, keepDaily: 2 })).toEqual(['2026-03-05T23:59:59.999Z', '2026-03-06T10:00:00.000Z', '2026-03-06T23:59:59.999Z']);
    const spread = ['2026-02-10T01:00:00.000Z', '2026-02-17T01:00:00.000Z', '2026-02-24T01:00:00.000Z', '2026-02-25T01:00:00.000Z', '2026-02-25T05:00:00.000Z', '2026-02-26T01:00:00.000Z'].map(at);
    expect(kept(spread, { keepLast: 1, keepDaily: 2, keepWeekly: 3 })).toEqual(['2026-02-10T01:00:00.000Z', '2026-02-17T01:00:00.000Z', '2026-02-25T05:00:00.000Z', '2026-02-26T01:00:00.000Z']);
    expect(kept(spread, { keepLast: 0, keepDaily: 0, keepWeekly: 1 })).toEqual(['2026-02-26T01:00:00.000Z']);
  });

  it('keeps one of two backups with the same time (by id), and prunes the rest', () => {
    const twins = [{ id: 'b', createdAt: 1000 }, { id: 'a', createdAt: 1000 }, { id: 'c', createdAt: 500 }];
    expect(pruneList(twins, { ...none, keepLast: 1 })).toHaveLength(2);
  });
});

describe('isoWeek', () => {
  it('labels dates with their ISO 8601 week (week 1 holds the first Thursday)', () => {
    const cases: [string, string][] = [
      ['2026-01-01', '2026-W01'], // Thursday
      ['2026-12-07', '2026-W50'], // Monday
      ['2027-01-01', '2026-W53'], // Friday
      ['2021-01-03', '2020-W53'], // Sunday
      ['2024-12-30', '2025-W01'], // Monday
      ['2025-06-15', '2025-W24'], // Sunday
      ['2020-12-31', '2020-W53'],
      ['2015-12-31', '2015-W53'],
      ['2018-01-01', '2018-W01'], // Monday, Jan 4 is a Thursday
    ];
    expect(cases.map(([d]) => [d, isoWeek(Date.parse(`${d}T12:00:00Z`))])).toEqual(cases);
  });
});
