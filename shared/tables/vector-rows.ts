// Rows ⇄ column vectors. The delta (row form) enters the vectorized executor
// through rowsToBatch; answers leave it through materialize, which builds row
// arrays for the selected rows only — the one place rows are made.

import { assert } from '../errors.js';
import type { Batch, Cell, ColumnType, NullBitmap, Row, Vector } from './table-types.js';
import { normalizeInt64 } from './table-types.js';

/** Is row `r` NULL in this bitmap? */
export function isNullAt(nulls: NullBitmap, r: number): boolean {
  return nulls !== null && ((nulls[r >> 3] >> (r & 7)) & 1) === 1;
}

/** The cell of row `r` of a vector (numbers for safe int64, bigint otherwise, dictionary strings resolved). */
export function cellAt(v: Vector, r: number): Cell {
  if (v.nulls !== null && ((v.nulls[r >> 3] >> (r & 7)) & 1) === 1) return null;
  switch (v.type) {
    case 'int64':
    case 'timestamp': {
      const x = v.values[r];
      return typeof x === 'bigint' ? normalizeInt64(x) : x;
    }
    case 'float64':
      return v.values[r];
    case 'boolean':
      return v.values[r] !== 0;
    case 'string':
      return 'codes' in v ? v.dict[v.codes[r]] : v.values[r];
    case 'binary':
      return v.values[r];
  }
}

/** One column of cells (NULLs allowed) → its vector: int64/timestamp as Float64Array when every value is safe. */
export function vectorFromCells(type: ColumnType, cells: readonly Cell[]): Vector {
  const n = cells.length;
  let nulls: Uint8Array | null = null;
  for (let i = 0; i < n; i++) {
    if (cells[i] === null) {
      nulls ??= new Uint8Array((n + 7) >> 3);
      nulls[i >> 3] |= 1 << (i & 7);
    }
  }
  switch (type) {
    case 'int64':
    case 'timestamp': {
      let safe = true;
      for (let i = 0; i < n; i++) {
        if (typeof cells[i] === 'bigint') {
          safe = false;
          break;
        }
      }
      if (safe) {
        const values = new Float64Array(n);
        for (let i = 0; i < n; i++) values[i] = (cells[i] as number | null) ?? 0;
        return { type, values, nulls };
      }
      const values = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const c = cells[i] as number | bigint | null;
        values[i] = c === null ? 0n : BigInt(c);
      }
      return { type, values, nulls };
    }
    case 'float64': {
      const values = new Float64Array(n);
      for (let i = 0; i < n; i++) values[i] = (cells[i] as number | null) ?? 0;
      return { type, values, nulls };
    }
    case 'boolean': {
      const values = new Uint8Array(n);
      for (let i = 0; i < n; i++) values[i] = cells[i] === true ? 1 : 0;
      return { type, values, nulls };
    }
    case 'string': {
      const values = new Array<string>(n);
      for (let i = 0; i < n; i++) values[i] = (cells[i] as string | null) ?? '';
      return { type, values, nulls };
    }
    case 'binary': {
      const empty = new Uint8Array(0);
      const values = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) values[i] = (cells[i] as Uint8Array | null) ?? empty;
      return { type, values, nulls };
    }
  }
}

/**
 * Rows (one cell per table column; a short row's missing trailing cells are NULL) → a batch
 * holding the `needed` columns (others undefined), every row selected.
 */
export function rowsToBatch(types: readonly ColumnType[], rows: readonly Row[], needed: readonly boolean[]): Batch {
  const columns: (Vector | undefined)[] = new Array<Vector | undefined>(types.length);
  const cells = new Array<Cell>(rows.length);
  for (let c = 0; c < types.length; c++) {
    if (!needed[c]) continue;
    for (let i = 0; i < rows.length; i++) cells[i] = rows[i][c] ?? null;
    columns[c] = vectorFromCells(types[c], cells);
  }
  return { length: rows.length, columns, selection: null };
}

/** The selected rows of a batch as rows holding the cells of `columns` (positions), in selection order. */
export function materialize(batch: Batch, columns: readonly number[]): Row[] {
  const vectors = columns.map((c) => {
    const v = batch.columns[c];
    assert(v !== undefined, `materialize: column ${c} not loaded`);
    return v;
  });
  const sel = batch.selection;
  const n = sel === null ? batch.length : sel.length;
  const out: Row[] = new Array<Row>(n);
  for (let i = 0; i < n; i++) {
    const r = sel === null ? i : sel[i];
    const row: Row = new Array<Cell>(vectors.length);
    for (let j = 0; j < vectors.length; j++) row[j] = cellAt(vectors[j], r);
    out[i] = row;
  }
  return out;
}
