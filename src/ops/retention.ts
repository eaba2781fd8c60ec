// Backup retention (--backup-keep-last/-daily/-weekly), as restic's forget
// counts it: keep the newest N backups; for each of the last D days that have
// backups, the newest of that day; for each of the last W ISO weeks that have
// backups, the newest of that week (days and weeks in UTC). A backup kept by
// any rule stays; with every count 0 nothing is removed.

export type Retention = { readonly keepLast: number; readonly keepDaily: number; readonly keepWeekly: number };

type Item = { readonly id: string; readonly createdAt: number };

/** The ids to delete. */
export function pruneList(items: readonly Item[], r: Retention): string[] {
  if (r.keepLast === 0 && r.keepDaily === 0 && r.keepWeekly === 0) return [];
  const newestFirst = [...items].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  const keep = new Set<string>();
  newestFirst.slice(0, r.keepLast).forEach((b) => keep.add(b.id));
  const byPeriod = (count: number, period: (ms: number) => string): void => {
    const seen = new Set<string>();
    for (const b of newestFirst) {
      if (seen.size >= count) break;
      const p = period(b.createdAt);
      if (seen.has(p)) continue;
      seen.add(p);
      keep.add(b.id);
    }
  };
  byPeriod(r.keepDaily, (ms) => new Date(ms).toISOString().slice(0, 10));
  byPeriod(r.keepWeekly, isoWeek);
  return newestFirst.filter((b) => !keep.has(b.id)).map((b) => b.id);
}

/** "2026-W49": the ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeek(ms: number): string {
  const d = new Date(ms);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  // The Thursday of this week decides the year; week 1 is the week of that year's first Thursday.
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}
