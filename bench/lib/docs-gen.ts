// The documents of the document benchmark (`npm run bench:docs`): about 1 KB
// of JSON each, with a nested unique email (the indexed lookup), a status and
// a category (the $match + $group), numbers, an array of strings and an
// array of sub-documents (the filter phase). Document i is a pure function of
// (seed, i), so MantisDB and PostgreSQL load identical data in any order, a
// lookup can name any loaded document by its index, and the expected group
// totals are known without asking either system.
//
// Only JSON types (no dates, ObjectIds or longs): PostgreSQL's jsonb holds
// nothing else, and the comparison is about the same bytes in both.

import { rng } from './storage-data.js';

export const DOC_BYTES = 1024;
export const CATEGORIES = 64;
export const COUNTRIES = ['DE', 'FR', 'NL', 'US', 'GB', 'JP', 'BR', 'IN', 'ES', 'IT'] as const;
const STATUSES = ['active', 'pending', 'closed', 'suspended'] as const;
/** Cumulative shares of STATUSES: 50 % active, 25 % pending, 15 % closed, 10 % suspended. */
const STATUS_CUMULATIVE = [0.5, 0.75, 0.9, 1] as const;

/**
 * Text to cut each document's notes from: pseudo-words from a vocabulary of
 * 2000, in random order, so the notes compress about as prose does (a
 * repeated phrase would compress to nothing and flatter a store that
 * compresses its blocks, as MantisDB does and PostgreSQL does not below 2 KB).
 */
const CORPUS = ((): string => {
  const next = rng(0x5eed);
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'pe', 'da', 'gri', 'fen', 'tor', 'qua', 'bel', 'zon', 'sch', 'ert', 'ion', 'ul'];
  const words: string[] = [];
  for (let w = 0; w < 2000; w++) {
    let word = '';
    for (let k = 1 + Math.floor(next() * 4); k > 0; k--) word += syllables[Math.floor(next() * syllables.length)];
    words.push(word);
  }
  const parts: string[] = [];
  for (let n = 0; n < 256 * 1024; ) {
    const word = words[Math.floor(next() * words.length)];
    parts.push(word);
    n += word.length + 1;
  }
  return parts.join(' ');
})();

/** The email of document i: fixed width, so every document has the same length. */
export function emailOf(i: number): string {
  return `user${String(i).padStart(9, '0')}@example.com`;
}

export function categoryOf(k: number): string {
  return `cat-${String(k).padStart(2, '0')}`;
}

/** The fields the group phase reads, drawn as docJson draws them. */
type GroupFields = { status: (typeof STATUSES)[number]; category: string; amount: number; age: number };

function draw(seed: number, i: number): { next: () => number; fields: GroupFields } {
  const next = rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35));
  const u = next();
  const status = STATUSES[STATUS_CUMULATIVE.findIndex((c) => u < c)];
  const category = categoryOf(Math.floor(next() * CATEGORIES));
  const amount = Math.round(next() * 100_000) / 100;
  const age = 18 + Math.floor(next() * 62);
  return { next, fields: { status, category, amount, age } };
}

/**
 * Document i as a JSON string of exactly DOC_BYTES bytes (ASCII only, so
 * bytes = characters). Built as text: the loaders send it as is.
 */
export function docJson(seed: number, i: number): string {
  const { next, fields } = draw(seed, i);
  const pick = (n: number): number => Math.floor(next() * n);
  const country = COUNTRIES[pick(COUNTRIES.length)];
  const tags = [pick(20), pick(20), pick(20)].map((t) => `"t${t}"`).join(',');
  const items: string[] = [];
  for (let k = 0; k < 3; k++) {
    items.push(`{"sku":"sku-${String(pick(100_000)).padStart(5, '0')}","price":${Math.round(next() * 10_000) / 100},"qty":${1 + pick(5)}}`);
  }
  const day = 1 + pick(28);
  const month = 1 + pick(12);
  const created = `2024-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${String(pick(24)).padStart(2, '0')}:00:00Z`;
  const head =
    `{"user":{"email":"${emailOf(i)}","name":"Name ${i}","age":${fields.age},` +
    `"address":{"city":"City ${pick(500)}","country":"${country}","zip":"${String(pick(100_000)).padStart(5, '0')}"}},` +
    `"status":"${fields.status}","category":"${fields.category}","amount":${fields.amount},"qty":${pick(10)},` +
    `"score":${Math.round(next() * 1e6) / 1e6},"tags":[${tags}],"items":[${items.join(',')}],"created":"${created}","notes":"`;
  const room = DOC_BYTES - head.length - 2;
  if (room < 0) throw new Error(`docJson: the fixed part of document ${i} is ${head.length} bytes, more than ${DOC_BYTES}`);
  const offset = pick(CORPUS.length - room);
  return head + CORPUS.slice(offset, offset + room) + '"}';
}

/** Documents [from, to) as JSON strings. */
export function docBatch(seed: number, from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(docJson(seed, i));
  return out;
}

/** One group of the benchmark's aggregation: active documents of a category. */
export type GroupRow = { readonly category: string; readonly count: number; readonly total: number; readonly avgAge: number };

/**
 * What `$match {status: "active"}` + `$group by category {count, sum amount,
 * avg user.age}` over documents [0, n) must give, computed from the
 * generator alone, sorted by category.
 */
export function expectedGroups(seed: number, n: number): GroupRow[] {
  const acc = new Map<string, { count: number; total: number; ages: number }>();
  for (let i = 0; i < n; i++) {
    const { fields } = draw(seed, i);
    if (fields.status !== 'active') continue;
    const g = acc.get(fields.category) ?? { count: 0, total: 0, ages: 0 };
    g.count++;
    g.total += fields.amount;
    g.ages += fields.age;
    acc.set(fields.category, g);
  }
  return [...acc]
    .map(([category, g]) => ({ category, count: g.count, total: g.total, avgAge: g.ages / g.count }))
    .sort((a, b) => (a.category < b.category ? -1 : a.category > b.category ? 1 : 0));
}

/**
 * Differences between a system's groups and the expected ones: counts
 * exactly, sums and averages to a relative 1e-9 (summation order differs).
 * Empty when they agree.
 */
export function compareGroups(expected: readonly GroupRow[], actual: readonly GroupRow[]): string[] {
  const problems: string[] = [];
  const got = new Map(actual.map((g) => [g.category, g]));
  if (actual.length !== expected.length) problems.push(`${actual.length} groups, expected ${expected.length}`);
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  for (const e of expected) {
    const g = got.get(e.category);
    if (g === undefined) problems.push(`group ${e.category} missing`);
    else if (g.count !== e.count || !close(g.total, e.total) || !close(g.avgAge, e.avgAge)) {
      problems.push(`group ${e.category}: count ${g.count} total ${g.total} avg age ${g.avgAge}, expected ${e.count} ${e.total} ${e.avgAge}`);
    }
  }
  return problems.slice(0, 5);
}

/** A deterministic stream of document indexes in [0, n) for the lookups (one per client, seeded by it). */
export function indexStream(seed: number, n: number): () => number {
  const next = rng(seed);
  return () => Math.floor(next() * n);
}
