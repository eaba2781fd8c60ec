// sqllogictest (SQLite's format, see /work/shared/sqllogictest/README.md):
// parse a script, run it against any engine through one `exec(sql)`
// function, and report every record's outcome.
//
//   const script = parseSlt(text, 'select1.test');
//   const summary = await runSlt(script, { exec });
//   if (summary.failed > 0) console.log(formatFailures(summary));
//
// The format: records separated by blank lines; `#` lines are comments
// anywhere. `statement ok|error` + SQL; `query <types> [<sort>] [<label>]` +
// SQL + `----` + one result value per line; `hash-threshold N`; `halt`;
// `skipif <engine>` / `onlyif <engine>` lines before a record (we are
// `postgresql`). Values are rendered by their column's type letter (I, R, T),
// sorted by the sort mode (nosort, rowsort, valuesort), and compared as lines,
// or as `<n> values hashing to <md5>` past the hash threshold. A labelled
// query must give the same values as every earlier query with that label.
//
// An engine's exec answers {ok:true, rows} or {ok:false, message}; it throws
// for a failure that is not an SQL error (transport, server crash, HTTP 5xx),
// and the runner counts such a record as failed whatever it expected.

import { createHash } from 'node:crypto';

export type ExecResult = { ok: true; rows: unknown[][] } | { ok: false; message: string };
export type Exec = (sql: string) => Promise<ExecResult>;

export type SortMode = 'nosort' | 'rowsort' | 'valuesort';

export type Conditions = {
  /** Engines the record is skipped for. */
  readonly skipif: readonly string[];
  /** When non-empty, the only engines the record runs on. */
  readonly onlyif: readonly string[];
};

type Span = {
  /** 1-based line of the record's command (`statement`, `query`, ...). */
  readonly line: number;
  /** 0-based index of the record's first line (its first condition or the command) in the file's lines. */
  readonly start: number;
  /** 0-based index one past the record's last line. */
  readonly end: number;
  readonly conditions: Conditions;
};

export type StatementRecord = Span & {
  readonly kind: 'statement';
  readonly expectError: boolean;
  readonly sql: string;
};

export type QueryRecord = Span & {
  readonly kind: 'query';
  /** One letter per column: I, R or T. */
  readonly types: string;
  readonly sort: SortMode;
  readonly label: string | null;
  readonly sql: string;
  /** Expected result lines (empty when the `----` line or the results are absent). */
  readonly expected: readonly string[];
  /** 0-based index of the `----` line, or -1 when the record has none. */
  readonly separator: number;
  /** 0-based index one past the SQL's last line. */
  readonly sqlEnd: number;
};

export type HashThresholdRecord = Span & { readonly kind: 'hash-threshold'; readonly threshold: number };
export type HaltRecord = Span & { readonly kind: 'halt' };

export type SltRecord = StatementRecord | QueryRecord | HashThresholdRecord | HaltRecord;

export type SltScript = {
  readonly file: string;
  /** The file's lines (without line terminators). */
  readonly lines: readonly string[];
  readonly records: readonly SltRecord[];
};

export class SltParseError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'SltParseError';
  }
}

const SORT_MODES: readonly string[] = ['nosort', 'rowsort', 'valuesort'];
const HASH_LINE = /^(\d+) values hashing to ([0-9a-f]{32})$/;

function isBlank(line: string): boolean {
  return line.trim() === '';
}

function isComment(line: string): boolean {
  return line.startsWith('#');
}

/** Parses a sqllogictest script. Throws SltParseError on a record it does not understand. */
export function parseSlt(text: string, file = '<slt>'): SltScript {
  const lines = text.split(/\r?\n/);
  const records: SltRecord[] = [];
  let i = 0;
  while (i < lines.length) {
    if (isBlank(lines[i]) || isComment(lines[i])) {
      i++;
      continue;
    }
    const start = i;
    let end = i;
    while (end < lines.length && !isBlank(lines[end])) end++;
    records.push(parseRecord(lines, start, end, file));
    i = end;
  }
  return { file, lines, records };
}

function parseRecord(lines: readonly string[], start: number, end: number, file: string): SltRecord {
  // The record's non-comment lines, with their 0-based indexes.
  const body: { text: string; index: number }[] = [];
  for (let k = start; k < end; k++) if (!isComment(lines[k])) body.push({ text: lines[k], index: k });
  const skipif: string[] = [];
  const onlyif: string[] = [];
  let c = 0;
  for (; c < body.length; c++) {
    const tokens = body[c].text.trim().split(/\s+/);
    if (tokens[0] === 'skipif' || tokens[0] === 'onlyif') {
      if (tokens.length < 2) throw new SltParseError(file, body[c].index + 1, `${tokens[0]} without an engine name`);
      (tokens[0] === 'skipif' ? skipif : onlyif).push(tokens[1]);
    } else break;
  }
  if (c >= body.length) throw new SltParseError(file, body[Math.max(0, body.length - 1)].index + 1, 'skipif/onlyif without a record');
  const command = body[c];
  const tokens = command.text.trim().split(/\s+/);
  const rest = body.slice(c + 1);
  const span = { line: command.index + 1, start, end, conditions: { skipif, onlyif } };
  switch (tokens[0]) {
    case 'statement': {
      if (tokens[1] !== 'ok' && tokens[1] !== 'error') throw new SltParseError(file, span.line, `statement ${tokens[1] ?? ''}: expected "statement ok" or "statement error"`);
      if (rest.length === 0) throw new SltParseError(file, span.line, 'statement without SQL');
      return { kind: 'statement', ...span, expectError: tokens[1] === 'error', sql: rest.map((l) => l.text).join('\n') };
    }
    case 'query': {
      const types = tokens[1] ?? '';
      if (!/^[IRT]+$/.test(types)) throw new SltParseError(file, span.line, `query types "${types}": expected letters I, R, T`);
      const sort = tokens[2] ?? 'nosort';
      if (!SORT_MODES.includes(sort)) throw new SltParseError(file, span.line, `query sort mode "${sort}": expected nosort, rowsort or valuesort`);
      const sepAt = rest.findIndex((l) => l.text.trim() === '----');
      const sqlLines = sepAt < 0 ? rest : rest.slice(0, sepAt);
      if (sqlLines.length === 0) throw new SltParseError(file, span.line, 'query without SQL');
      const expected = sepAt < 0 ? [] : rest.slice(sepAt + 1).map((l) => l.text); // exact: a text value may end in spaces
      return {
        kind: 'query',
        ...span,
        types,
        sort: sort as SortMode,
        label: tokens[3] ?? null,
        sql: sqlLines.map((l) => l.text).join('\n'),
        expected,
        separator: sepAt < 0 ? -1 : rest[sepAt].index,
        sqlEnd: sqlLines[sqlLines.length - 1].index + 1,
      };
    }
    case 'hash-threshold': {
      const threshold = Number(tokens[1]);
      if (!Number.isInteger(threshold) || threshold < 0) throw new SltParseError(file, span.line, `hash-threshold "${tokens[1] ?? ''}": expected a non-negative integer`);
      return { kind: 'hash-threshold', ...span, threshold };
    }
    case 'halt':
      return { kind: 'halt', ...span };
    default:
      throw new SltParseError(file, span.line, `unknown record "${command.text.trim()}"`);
  }
}

/** Whether a record runs on `engine` (skipif / onlyif). */
export function appliesTo(record: SltRecord, engine: string): boolean {
  const { skipif, onlyif } = record.conditions;
  if (skipif.includes(engine)) return false;
  if (onlyif.length > 0 && !onlyif.includes(engine)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Rendering values

/** C's `%.3f`: the exact binary value rounded half to even (JS toFixed rounds ties away from zero). */
export function formatFixed3(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.000';
  const negative = x < 0;
  const abs = Math.abs(x);
  if (abs >= 1e21) return `${negative ? '-' : ''}${BigInt(abs).toString()}.000`; // an integer this large; toFixed would switch to e-notation
  // A tie (abs*1000 = n + 1/2 exactly) happens only for abs = j/16 with j odd.
  const j = abs * 16;
  if (Number.isInteger(j) && j % 2 === 1 && abs < 2 ** 40) {
    const twice = BigInt(j) * 125n; // = 2 * abs * 1000, odd
    let n = (twice - 1n) / 2n;
    if (n % 2n === 1n) n += 1n; // half to even
    const whole = n / 1000n;
    const frac = (n % 1000n).toString().padStart(3, '0');
    return `${negative ? '-' : ''}${whole}.${frac}`;
  }
  return x.toFixed(3);
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `{${value.map((v) => (v === null || v === undefined ? 'NULL' : textOf(v))).join(',')}}`;
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  return JSON.stringify(value);
}

/** A number from a string the way C's strtod/strtoll would read its start; 0 when there is none. */
function leadingNumber(s: string, integer: boolean): number {
  const m = (integer ? /^\s*[+-]?\d+/ : /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/).exec(s);
  return m === null ? 0 : Number(m[0]);
}

function integerOfNumber(x: number): string {
  if (!Number.isFinite(x)) return '0';
  const t = Math.trunc(x);
  if (t === 0) return '0';
  return Number.isSafeInteger(t) ? String(t) : BigInt(t).toString();
}

/** `I`: the value as an integer, a fraction truncated toward zero, a boolean 1 or 0. */
export function formatInteger(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return integerOfNumber(value);
  if (typeof value === 'string') {
    const s = value.trim();
    // A decimal string (an int8 or numeric past 2^53) is truncated exactly.
    const m = /^([+-]?)(\d*)(?:\.\d*)?$/.exec(s);
    if (m !== null && /\d/.test(s)) {
      const digits = m[2].replace(/^0+/, '');
      return digits === '' ? '0' : `${m[1] === '-' ? '-' : ''}${digits}`;
    }
    const n = Number(s);
    if (s !== '' && !Number.isNaN(n)) return integerOfNumber(n);
    return integerOfNumber(leadingNumber(s, true));
  }
  return integerOfNumber(Number(value));
}

/** `R`: the value printed like C's `%.3f`. */
export function formatReal(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1.000' : '0.000';
  if (typeof value === 'number') return formatFixed3(value);
  if (typeof value === 'bigint') return `${value.toString()}.000`;
  if (typeof value === 'string') {
    const s = value.trim();
    if (/^[+-]?\d+$/.test(s) && s.replace(/^[+-]?0*/, '').length > 15) return `${BigInt(s).toString()}.000`;
    const n = Number(s);
    return formatFixed3(s !== '' && !Number.isNaN(n) ? n : /^[+-]?nan$/i.test(s) ? NaN : leadingNumber(s, false));
  }
  return formatFixed3(Number(value));
}

/** `T`: the text; the empty string `(empty)`, every byte outside printable ASCII `@`. */
export function formatText(value: unknown): string {
  const s = textOf(value);
  if (s === '') return '(empty)';
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0x20 && cp <= 0x7e) out += ch;
    else out += '@'.repeat(cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
  }
  return out;
}

/** One value by its column's type letter; NULL (null/undefined) is `NULL` whatever the letter. */
export function formatValue(value: unknown, type: string): string {
  if (value === null || value === undefined) return 'NULL';
  if (type === 'I') return formatInteger(value);
  if (type === 'R') return formatReal(value);
  return formatText(value);
}

function compareBytes(a: string, b: string): number {
  // Rendered values are printable ASCII, so UTF-16 order is byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRows(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) {
    const c = compareBytes(a[k], b[k]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Every value rendered, in the order the sort mode gives: the lines a result is compared by. */
export function renderValues(rows: readonly (readonly unknown[])[], types: string, sort: SortMode): string[] {
  const rendered = rows.map((row) => row.map((v, k) => formatValue(v, types[k] ?? 'T')));
  if (sort === 'rowsort') rendered.sort(compareRows);
  const values = rendered.flat();
  if (sort === 'valuesort') values.sort(compareBytes);
  return values;
}

export function hashValues(values: readonly string[]): string {
  const md5 = createHash('md5');
  for (const v of values) md5.update(`${v}\n`);
  return md5.digest('hex');
}

export function hashLine(values: readonly string[]): string {
  return `${values.length} values hashing to ${hashValues(values)}`;
}

/** The result lines a file lists for these values: the values, or their hash line past the threshold (0: never). */
export function resultLines(values: readonly string[], hashThreshold: number): string[] {
  return hashThreshold > 0 && values.length > hashThreshold ? [hashLine(values)] : [...values];
}

// ---------------------------------------------------------------------------
// Running

export type RecordStatus = 'pass' | 'fail' | 'skip';

export type RecordResult = {
  readonly file: string;
  readonly line: number;
  readonly kind: 'statement' | 'query';
  readonly sql: string;
  /** `statement`: ["ok"] or ["error"]; `query`: the expected result lines. */
  readonly expected: readonly string[];
  /** `statement`: ["ok"] or ["error: <message>"]; `query`: the lines compared (hash line when the expectation is one), or ["error: <message>"]. */
  readonly got: readonly string[];
  /** A failed query's rendered values (at most 60), when `got` is a hash line. */
  readonly gotValues?: readonly string[];
  readonly status: RecordStatus;
  readonly pass: boolean;
  /** Why it failed (column count, label mismatch, engine error, ...). */
  readonly message?: string;
  readonly ms: number;
};

export type RunSummary = {
  readonly file: string;
  readonly engine: string;
  /** statement and query records, skipped ones included. */
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** A `halt` record stopped the run. */
  readonly halted: boolean;
  readonly ms: number;
  readonly results: readonly RecordResult[];
};

export type RunOptions = {
  readonly exec: Exec;
  /** The engine name skipif/onlyif test (default "postgresql"). */
  readonly engine?: string;
  /** The hash threshold before the file sets one (default 0: never hash). */
  readonly hashThreshold?: number;
  /** Called after every statement or query record. */
  readonly onResult?: (result: RecordResult) => void;
};

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs every record of a script in order and reports each one. */
export async function runSlt(script: SltScript, options: RunOptions): Promise<RunSummary> {
  const engine = options.engine ?? 'postgresql';
  let hashThreshold = options.hashThreshold ?? 0;
  const labels = new Map<string, { hash: string; line: number }>();
  const results: RecordResult[] = [];
  let halted = false;
  const began = performance.now();

  for (const record of script.records) {
    if (record.kind === 'halt' || record.kind === 'hash-threshold') {
      if (!appliesTo(record, engine)) continue;
      if (record.kind === 'halt') {
        halted = true;
        break;
      }
      hashThreshold = record.threshold;
      continue;
    }
    const base = { file: script.file, line: record.line, kind: record.kind, sql: record.sql };
    const expected = record.kind === 'statement' ? [record.expectError ? 'error' : 'ok'] : record.expected;
    if (!appliesTo(record, engine)) {
      const skipped: RecordResult = { ...base, expected, got: [], status: 'skip', pass: true, ms: 0 };
      results.push(skipped);
      options.onResult?.(skipped);
      continue;
    }
    const t0 = performance.now();
    let outcome: ExecResult | null = null;
    let thrown: string | null = null;
    try {
      outcome = await options.exec(record.sql);
    } catch (e) {
      thrown = errorText(e);
    }
    const ms = performance.now() - t0;
    let result: RecordResult;
    if (outcome === null) {
      result = { ...base, expected, got: [`engine failure: ${thrown}`], status: 'fail', pass: false, message: `the engine failed (not an SQL error): ${thrown}`, ms };
    } else if (record.kind === 'statement') {
      const got = outcome.ok ? ['ok'] : [`error: ${outcome.message}`];
      const pass = outcome.ok !== record.expectError;
      result = { ...base, expected, got, status: pass ? 'pass' : 'fail', pass, ms, ...(pass ? {} : { message: record.expectError ? 'statement succeeded but an error was expected' : 'statement failed' }) };
    } else if (!outcome.ok) {
      result = { ...base, expected, got: [`error: ${outcome.message}`], status: 'fail', pass: false, message: 'query failed', ms };
    } else {
      result = { ...base, expected, ...checkQuery(record, outcome.rows, hashThreshold, labels), ms };
    }
    results.push(result);
    options.onResult?.(result);
  }

  const count = (s: RecordStatus): number => results.filter((r) => r.status === s).length;
  return { file: script.file, engine, total: results.length, passed: count('pass'), failed: count('fail'), skipped: count('skip'), halted, ms: performance.now() - began, results };
}

function checkQuery(
  record: QueryRecord,
  rows: readonly (readonly unknown[])[],
  hashThreshold: number,
  labels: Map<string, { hash: string; line: number }>,
): Pick<RecordResult, 'got' | 'gotValues' | 'status' | 'pass' | 'message'> {
  const width = rows.find((row) => row.length !== record.types.length)?.length;
  if (width !== undefined) {
    const values = renderValues(rows, record.types, record.sort);
    return { got: values.slice(0, 60), status: 'fail', pass: false, message: `expected ${record.types.length} column(s) (${record.types}), got ${width}` };
  }
  const values = renderValues(rows, record.types, record.sort);
  const expectedHash = record.expected.length === 1 ? HASH_LINE.exec(record.expected[0]) : null;
  // Past the threshold the values are compared by their hash line; an expectation written as a
  // hash line is compared as one whatever the threshold.
  const hashed = expectedHash !== null || (hashThreshold > 0 && values.length > hashThreshold);
  const got = hashed ? [hashLine(values)] : values;
  let pass = got.length === record.expected.length && got.every((v, k) => v === record.expected[k]);
  let message: string | undefined = pass ? undefined : hashed ? 'result hash differs' : 'result differs';
  if (record.label !== null) {
    const hash = hashValues(values);
    const earlier = labels.get(record.label);
    // Only a query that matched its own expectation sets a label's values, so one wrong
    // answer does not fail every later query with that label too.
    if (earlier === undefined) {
      if (pass) labels.set(record.label, { hash, line: record.line });
    } else if (earlier.hash !== hash) {
      pass = false;
      message = `${message !== undefined ? `${message}; ` : ''}label ${record.label}: values differ from the query at line ${earlier.line}`;
    }
  }
  return { got, ...(hashed && !pass ? { gotValues: values.slice(0, 60) } : {}), status: pass ? 'pass' : 'fail', pass, ...(message !== undefined ? { message } : {}) };
}

// ---------------------------------------------------------------------------
// Reporting

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

function listing(lines: readonly string[], max = 12): string {
  if (lines.length === 0) return '(no rows)';
  const shown = lines.slice(0, max).join(' | ');
  return lines.length > max ? `${shown} | … (${lines.length} lines)` : shown;
}

/** One failed record, a few lines: where, the SQL, expected vs got. */
export function formatFailure(r: RecordResult): string {
  const out = [`${r.file}:${r.line} ${r.kind}${r.message !== undefined ? ` — ${r.message}` : ''}`];
  out.push(`  sql:      ${clip(r.sql.replace(/\s*\n\s*/g, ' '), 600)}`);
  out.push(`  expected: ${clip(listing(r.expected), 600)}`);
  out.push(`  got:      ${clip(listing(r.got), 600)}`);
  if (r.gotValues !== undefined) out.push(`  values:   ${clip(listing(r.gotValues, 24), 600)}`);
  return out.join('\n');
}

/** The totals line and the first `max` failures. */
export function formatFailures(summary: RunSummary, max = 20): string {
  const failures = summary.results.filter((r) => r.status === 'fail');
  const head = `${summary.file}: ${summary.passed}/${summary.total - summary.skipped} passed, ${summary.failed} failed${summary.skipped > 0 ? `, ${summary.skipped} skipped` : ''}${summary.halted ? ' (halted)' : ''} in ${(summary.ms / 1000).toFixed(1)} s`;
  if (failures.length === 0) return head;
  const shown = failures.slice(0, max).map(formatFailure);
  const more = failures.length > max ? [`… and ${failures.length - max} more failing record(s)`] : [];
  return [head, `first ${Math.min(max, failures.length)} failing record(s):`, ...shown, ...more].join('\n');
}
