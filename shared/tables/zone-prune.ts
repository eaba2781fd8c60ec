// Zone-map (and bloom-filter) pruning: may a column chunk or segment hold a
// row where the predicate is TRUE? false means "certainly not": the scan
// skips it without decoding. Conservative everywhere else (an unknown zone,
// a column the segment lacks: "maybe").
//
// Same three-valued logic as vector-filter: mayHave(p, want) asks whether some
// row can have truth `want` (TRUE, or FALSE under a NOT). Zone min/max follow
// cells.ts's orders (float64 NaN above every number), and are null when
// every value is NULL. The bloom callback answers false when the value is
// certainly absent from the column; it is asked only for equality (=, in).

import { compareCells } from './cells.js';
import type { Cell, Predicate, ZoneMap } from './table-types.js';

export type ZoneOf = (col: number) => ZoneMap | null;
export type BloomCheck = (col: number, cell: Cell) => boolean;

/** May some row covered by these zone maps satisfy `p` (be TRUE)? */
export function mayMatch(p: Predicate, zone: ZoneOf, bloom?: BloomCheck): boolean {
  return mayHave(p, true, zone, bloom);
}

function mayHave(p: Predicate, want: boolean, zone: ZoneOf, bloom: BloomCheck | undefined): boolean {
  if ('and' in p) {
    // TRUE needs every child TRUE; FALSE needs one child FALSE.
    if (want) return p.and.every((c) => mayHave(c, true, zone, bloom));
    return p.and.some((c) => mayHave(c, false, zone, bloom));
  }
  if ('or' in p) {
    if (want) return p.or.some((c) => mayHave(c, true, zone, bloom));
    return p.or.every((c) => mayHave(c, false, zone, bloom));
  }
  if ('not' in p) return mayHave(p.not, !want, zone, bloom);
  const z = zone(p.col);
  if (z === null) return true;
  const nonNull = z.rowCount - z.nullCount;
  if (p.op === 'is_null' || p.op === 'is_not_null') {
    const wantNull = (p.op === 'is_null') === want;
    return wantNull ? z.nullCount > 0 : nonNull > 0;
  }
  // Every other leaf is UNKNOWN on NULL: some non-null value must exist.
  if (nonNull <= 0 || z.min === null || z.max === null) return false;
  const min = z.min;
  const max = z.max;
  switch (p.op) {
    case 'in':
    case 'not_in': {
      const hasNull = p.value.some((c) => c === null);
      // in: TRUE on a hit, FALSE on a miss (UNKNOWN instead when the list has NULL); not_in reversed.
      const wantHit = (p.op === 'in') === want;
      if (wantHit) return p.value.some((c) => c !== null && inRange(min, max, c) && (bloom === undefined || bloom(p.col, c)));
      if (hasNull) return false;
      return !(compareCells(min, max) === 0 && p.value.some((c) => c !== null && compareCells(c, min) === 0));
    }
    case 'starts_with': {
      const prefix = p.value;
      const lo = min as string;
      const hi = max as string;
      if (want) return compareCells(hi, prefix) >= 0 && (compareCells(lo, prefix) <= 0 || lo.startsWith(prefix));
      return !(lo.startsWith(prefix) && hi.startsWith(prefix));
    }
    default: {
      const cmp = p as { readonly op: keyof typeof INVERSE; readonly value: Cell };
      const k = cmp.value;
      const op = want ? cmp.op : INVERSE[cmp.op];
      switch (op) {
        case '=':
          return inRange(min, max, k) && (bloom === undefined || bloom(p.col, k));
        case '!=':
          return !(compareCells(min, k) === 0 && compareCells(max, k) === 0);
        case '<':
          return compareCells(min, k) < 0;
        case '<=':
          return compareCells(min, k) <= 0;
        case '>':
          return compareCells(max, k) > 0;
        default:
          return compareCells(max, k) >= 0;
      }
    }
  }
}

const INVERSE = { '=': '!=', '!=': '=', '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as const;

function inRange(min: Cell, max: Cell, k: Cell): boolean {
  return compareCells(min, k) <= 0 && compareCells(max, k) >= 0;
}
