// Pieces the Documents, Tables and SQL sections share: a POST query run as a
// view (re-run when its inputs change), JSON editors' text parsed with a
// readable error, cursor stacks kept in the URL, and grids over result rows.

import { useCallback, useEffect, useState, type ReactNode } from 'react';
import type { Answer, Meta } from '../api';
import { cellText, Pager, type Column } from '../components';
import { notify } from '../toast';
import { setQueryParams } from '../router';
import './query.css';

export type RunState<T> = {
  readonly data: T | undefined;
  readonly meta: Meta;
  readonly error: Error | undefined;
  readonly loading: boolean;
  readonly reload: () => void;
};

/**
 * A query that reads (find, aggregate, table query…) through a POST route: run whenever `key`
 * changes (null: not run), failures as error toasts, like useApi does for GET routes.
 */
export function useQueryRun<T>(key: string | null, work: (signal: AbortSignal) => Promise<Answer<T>>): RunState<T> {
  const [state, setState] = useState<{ data: T | undefined; meta: Meta; error: Error | undefined; loading: boolean }>({ data: undefined, meta: {}, error: undefined, loading: key !== null });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (key === null) {
      setState({ data: undefined, meta: {}, error: undefined, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    // `work` is recreated each render; the key says when its inputs changed.
    work(controller.signal).then(
      (answer) => {
        if (!controller.signal.aborted) setState({ data: answer.data, meta: answer.meta, error: undefined, loading: false });
      },
      (error: Error) => {
        if (controller.signal.aborted) return;
        notify.error(error);
        setState({ data: undefined, meta: {}, error, loading: false });
      },
    );
    return () => controller.abort();
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

/** Text from a JSON editor: undefined when blank; a parse failure names the field (shown as a CLIENT_ERROR toast). */
export function parseJsonText(text: string, what: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Like parseJsonText, and the value must be an object. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> | undefined {
  const value = parseJsonText(text, what);
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} must be a JSON object ({…})`);
  return value as Record<string, unknown>;
}

/** Editor height for its text: wrapped lines at about `perLine` characters, between min and max rows. */
export function editorRows(text: string, perLine: number, min: number, max: number): number {
  const lines = text.split('\n').reduce((n, line) => n + Math.max(1, Math.ceil(line.length / perLine)), 0);
  return Math.min(max, Math.max(min, lines));
}

/** Runs a check that may throw (a bad JSON field) and shows its failure as a toast; true when it passed. */
export function checked(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (error) {
    notify.error(error);
    return false;
  }
}

// ---- cursor paging kept in the URL --------------------------------------------------

/**
 * The cursors of the pages before this one, kept in the URL (`after=c1,c2`) so a reload or
 * a shared link opens the same page. Cursor tokens are base64 and hold no commas.
 */
export function cursorStack(raw: string): string[] {
  return raw === '' ? [] : raw.split(',');
}

export function CursorPager({ stack, param, next, label }: { stack: readonly string[]; param: string; next: string | null | undefined; label: string }) {
  return (
    <Pager
      label={label}
      page={stack.length + 1}
      hasNext={next !== null && next !== undefined && next !== ''}
      onPrev={() => setQueryParams({ [param]: stack.slice(0, -1).join(',') })}
      onNext={() => {
        if (next !== null && next !== undefined) setQueryParams({ [param]: [...stack, next].join(',') });
      }}
    />
  );
}

// ---- client-side pages over rows the server answered at once ------------------------------

export function useClientPages<R>(rows: readonly R[], pageSize: number, resetKey: unknown): { page: number; slice: readonly R[]; pager: ReactNode } {
  const [page, setPage] = useState(1);
  useEffect(() => setPage(1), [resetKey]);
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const current = Math.min(page, pages);
  const slice = rows.slice((current - 1) * pageSize, current * pageSize);
  const pager =
    rows.length > pageSize ? (
      <div className="q-pager-line">
        <Pager page={current} hasNext={current < pages} onPrev={() => setPage(current - 1)} onNext={() => setPage(current + 1)} label="Result pages" />
        <span className="muted">
          rows {(current - 1) * pageSize + 1}–{Math.min(current * pageSize, rows.length)} of {rows.length} (paged here: the server answered them all)
        </span>
      </div>
    ) : null;
  return { page: current, slice, pager };
}

// ---- documents (relaxed Extended JSON) ------------------------------------------------------

/** A cell's text for a document value: ObjectIds and dates the way Compass shows them. */
export function ejsonText(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      if (typeof o.$oid === 'string') return `ObjectId('${o.$oid}')`;
      if (o.$date !== undefined) return typeof o.$date === 'string' ? o.$date : cellText(o.$date);
      if (typeof o.$numberLong === 'string') return o.$numberLong;
      if (typeof o.$numberDecimal === 'string') return o.$numberDecimal;
    }
  }
  return cellText(value);
}

const isWrapper = (o: Record<string, unknown>): boolean => {
  const keys = Object.keys(o);
  return keys.length === 1 && keys[0].startsWith('$');
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !isWrapper(v as Record<string, unknown>);

/** The value at a dotted path ("customer.city"), undefined when absent. */
export function valueAt(doc: Record<string, unknown>, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('.')) {
    if (!isPlainObject(v)) return undefined;
    v = v[part];
  }
  return v;
}

/**
 * Grid columns for documents: _id first, then the top-level fields in first-seen order, an
 * embedded document's fields as their own columns ("customer.city", one level down), at most `max`.
 */
export function documentColumns(docs: readonly Record<string, unknown>[], max = 10): Column<Record<string, unknown>>[] {
  const seen: string[] = [];
  const add = (k: string): void => {
    if (!seen.includes(k)) seen.push(k);
  };
  for (const d of docs) {
    for (const [k, v] of Object.entries(d)) {
      if (k !== '_id' && isPlainObject(v) && Object.keys(v).length > 0 && docs.every((x) => x[k] === undefined || isPlainObject(x[k]))) for (const sub of Object.keys(v)) add(`${k}.${sub}`);
      else add(k);
    }
  }
  const ordered = seen.includes('_id') ? ['_id', ...seen.filter((k) => k !== '_id')] : seen;
  return ordered.slice(0, max).map((k) => ({
    key: k,
    label: k,
    numeric: docs.every((d) => valueAt(d, k) === undefined || typeof valueAt(d, k) === 'number'),
    render: (row: Record<string, unknown>) => {
      const v = valueAt(row, k);
      if (v === undefined) return <span className="muted">—</span>;
      const text = ejsonText(v);
      return (
        <span className="q-cell" title={text.length > 40 ? text : undefined}>
          {text}
        </span>
      );
    },
  }));
}

/** Numeric SQL and table types are right-aligned in grids. */
export const NUMERIC_TYPES = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'int64', 'float64', 'oid']);

/** A grid cell: null shown as a muted NULL (not the text "null"). */
export function cellNode(value: unknown): ReactNode {
  if (value === null || value === undefined) return <span className="q-null">NULL</span>;
  const text = cellText(value);
  return <span title={text.length > 60 ? text : undefined}>{text}</span>;
}
