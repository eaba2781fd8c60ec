// String expression operators. MongoDB counts $substr/$strLenBytes/
// $indexOfBytes in UTF-8 bytes and the *CP variants in code points; case
// mapping ($toLower, $toUpper, $strcasecmp) is ASCII only, as MongoDB's is.

import { nestsUnboundedQuantifiers } from './regex-guard.js';
import { BSONRegExp } from 'bson';
import {
  badQuery,
  compileArgs,
  isNullish,
  namedArgs,
  typeLabel,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Value,
} from './agg-expr-core.js';
import { wholeNumber } from './agg-expr-num.js';
import type { DocValue } from './doc-types.js';

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function requireString(v: Value, op: string, what = 'argument'): string {
  if (typeof v !== 'string') throw badQuery(`${op} requires a string ${what}, found: ${typeLabel(v)}`);
  return v;
}

function requireIndex(v: Value, op: string, what: string): number {
  const n = wholeNumber(v);
  if (n === null || n < 0) throw badQuery(`${op} requires ${what} to be a non-negative integer, found: ${typeLabel(v)}`);
  return n;
}

/** $substr and $toLower coerce scalars to strings; null/missing become "". */
function coerceString(v: Value, op: string): string {
  if (isNullish(v)) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  throw badQuery(`${op} cannot convert ${typeLabel(v)} to a string`);
}

export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

function concat(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 0, Infinity);
  return (s) => {
    let out = '';
    for (const n of nodes) {
      const v = n(s);
      if (isNullish(v)) return null;
      out += requireString(v, op);
    }
    return out;
  };
}

function substrBytes(args: DocValue, c: ExprCompiler, op: string): Node {
  const [str, start, len] = compileArgs(args, c, op, 3);
  return (s) => {
    const bytes = utf8.encode(coerceString(str(s), op));
    const from = wholeNumber(start(s));
    const count = wholeNumber(len(s));
    if (from === null || count === null) throw badQuery(`${op}: starting index and length must be numeric`);
    if (from < 0 || from >= bytes.length) return '';
    const end = count < 0 ? bytes.length : Math.min(bytes.length, from + count);
    try {
      return utf8Decoder.decode(bytes.subarray(from, end));
    } catch {
      throw badQuery(`${op}: Invalid range, the range splits a UTF-8 character`);
    }
  };
}

function substrCP(args: DocValue, c: ExprCompiler, op: string): Node {
  const [str, start, len] = compileArgs(args, c, op, 3);
  return (s) => {
    const chars = Array.from(coerceString(str(s), op));
    const from = requireIndex(start(s), op, 'a starting index');
    const count = requireIndex(len(s), op, 'a length');
    return chars.slice(from, from + count).join('');
  };
}

function caseMap(fn: (s: string) => string) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => fn(coerceString(a(s), op));
  };
}

// MongoDB's default $trim characters: NUL, ASCII whitespace and the Unicode spaces.
const TRIM_DEFAULT = new Set(Array.from('\0 \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a'));

function trim(which: 'both' | 'start' | 'end') {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const named = namedArgs(args, op, ['input'], ['chars']);
    const input = c.compile(named.input);
    const chars = named.chars === undefined ? null : c.compile(named.chars);
    return (s) => {
      const v = input(s);
      if (isNullish(v)) return null;
      const str = Array.from(requireString(v, op, 'input'));
      const cv = chars === null ? null : chars(s);
      if (chars !== null && isNullish(cv)) return null;
      const set = cv === null ? TRIM_DEFAULT : new Set(Array.from(requireString(cv, op, 'chars')));
      let from = 0;
      let to = str.length;
      if (which !== 'end') while (from < to && set.has(str[from])) from++;
      if (which !== 'start') while (to > from && set.has(str[to - 1])) to--;
      return str.slice(from, to).join('');
    };
  };
}

function split(args: DocValue, c: ExprCompiler, op: string): Node {
  const [str, delim] = compileArgs(args, c, op, 2);
  return (s) => {
    const v = str(s);
    const d = delim(s);
    if (isNullish(v) || isNullish(d)) return null;
    const sep = requireString(d, op, 'delimiter');
    if (sep === '') throw badQuery('$split requires a non-empty separator');
    return requireString(v, op).split(sep);
  };
}

function strLen(unit: 'cp' | 'bytes') {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => {
      const str = requireString(a(s), op);
      return unit === 'cp' ? codePointLength(str) : utf8.encode(str).length;
    };
  };
}

function codePointLength(str: string): number {
  let n = 0;
  for (const _ of str) n++;
  return n;
}

function indexOf(unit: 'cp' | 'bytes') {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [str, sub, start, end] = compileArgs(args, c, op, 2, 4);
    return (s) => {
      const v = str(s);
      if (isNullish(v)) return null;
      const hay = unit === 'cp' ? Array.from(requireString(v, op)) : Array.from(utf8.encode(requireString(v, op)));
      const needleStr = requireString(sub(s), op, 'substring');
      const needle = unit === 'cp' ? Array.from(needleStr) : Array.from(utf8.encode(needleStr));
      const from = start === undefined ? 0 : requireIndex(start(s), op, 'a starting index');
      const to = end === undefined ? hay.length : Math.min(hay.length, requireIndex(end(s), op, 'an ending index'));
      for (let i = from; i + needle.length <= to; i++) {
        if (needle.every((ch, j) => hay[i + j] === ch)) return i;
      }
      return -1;
    };
  };
}

function strcasecmp(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a, b] = compileArgs(args, c, op, 2);
  return (s) => {
    const x = asciiLower(coerceString(a(s), op));
    const y = asciiLower(coerceString(b(s), op));
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

function replace(all: boolean) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const named = namedArgs(args, op, ['input', 'find', 'replacement']);
    const [input, find, repl] = [named.input, named.find, named.replacement].map((e) => c.compile(e));
    return (s) => {
      const [v, f, r] = [input(s), find(s), repl(s)];
      if (isNullish(v) || isNullish(f) || isNullish(r)) return null;
      const str = requireString(v, op, 'input');
      const needle = requireString(f, op, 'find');
      const with_ = requireString(r, op, 'replacement');
      return all ? str.split(needle).join(with_) : str.replace(needle, () => with_);
    };
  };
}

// ---------------------------------------------------------------- regex ----

/**
 * A JS RegExp for a MongoDB pattern and options (i m s x). `x` (extended) is
 * emulated by dropping unescaped whitespace and #-comments outside character
 * classes. REQUIRES: the caller reports where the pattern came from via `op`.
 */
export function compileRegex(pattern: string, options: string, op: string, extraFlags = ''): RegExp {
  let flags = extraFlags;
  let source = pattern;
  for (const ch of options) {
    if (ch === 'i' || ch === 'm' || ch === 's') {
      if (!flags.includes(ch)) flags += ch;
    } else if (ch === 'x') {
      source = stripExtended(source);
    } else if (ch !== 'u') {
      throw badQuery(`${op}: invalid flag in regex options: ${ch}`);
    }
  }
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (e) {
    throw badQuery(`${op}: invalid regular expression: ${(e as Error).message}`);
  }
  // Checked once the pattern is known to be valid (regex-guard.ts: a shard has no regex time limit).
  if (nestsUnboundedQuantifiers(source)) {
    throw badQuery(`${op}: the pattern nests unbounded quantifiers (as (a+)+ does), which can take exponential time; rewrite it without the nesting`);
  }
  return re;
}

function stripExtended(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\') {
      out += ch + (source[i + 1] ?? '');
      i++;
    } else if (inClass) {
      out += ch;
      if (ch === ']') inClass = false;
    } else if (ch === '[') {
      inClass = true;
      out += ch;
    } else if (ch === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (!/\s/.test(ch)) {
      out += ch;
    }
  }
  return out;
}

type RegexMode = 'match' | 'find' | 'findAll';

function regexOp(mode: RegexMode) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const named = namedArgs(args, op, ['input', 'regex'], ['options']);
    const input = c.compile(named.input);
    const regex = c.compile(named.regex);
    const options = named.options === undefined ? null : c.compile(named.options);
    // patterns are usually constants: keep the last compiled one
    let lastKey: string | null = null;
    let last: RegExp | null = null;
    return (s) => {
      const v = input(s);
      const spec = regexSpec(regex(s), options === null ? undefined : options(s), op);
      if (isNullish(v) || spec === null) return mode === 'match' ? false : mode === 'find' ? null : [];
      const key = `${spec[1]}/${spec[0]}`;
      if (key !== lastKey || last === null) {
        last = compileRegex(spec[0], spec[1], op, 'g');
        lastKey = key;
      }
      const re = last;
      re.lastIndex = 0;
      const str = requireString(v, op, 'input');
      if (mode === 'match') return re.test(str);
      const found = Array.from(str.matchAll(re), (m) => matchDoc(str, m));
      return mode === 'find' ? (found[0] ?? null) : found;
    };
  };
}

/** [source, options] of a regex operand, or null when it is null/missing. */
function regexSpec(pattern: Value, options: Value, op: string): [string, string] | null {
  if (isNullish(pattern)) return null;
  let source: string;
  let opts = '';
  if (pattern instanceof BSONRegExp) {
    source = pattern.pattern;
    opts = pattern.options;
    if (typeof options === 'string' && options !== '' && opts !== '') {
      throw badQuery(`${op}: options set in both regex and options field`);
    }
  } else {
    source = requireString(pattern, op, 'regex');
  }
  if (typeof options === 'string') opts += options;
  else if (!isNullish(options)) throw badQuery(`${op} requires options to be a string`);
  return [source, opts];
}

function matchDoc(str: string, m: RegExpMatchArray): DocValue {
  const idx = codePointLength(str.slice(0, m.index ?? 0));
  return { match: m[0], idx, captures: m.slice(1).map((g) => (g === undefined ? null : g)) };
}

export const STRING_OPS: OpTable = {
  $concat: concat,
  $substr: substrBytes,
  $substrBytes: substrBytes,
  $substrCP: substrCP,
  $toLower: caseMap(asciiLower),
  $toUpper: caseMap(asciiUpper),
  $trim: trim('both'),
  $ltrim: trim('start'),
  $rtrim: trim('end'),
  $split: split,
  $strLenCP: strLen('cp'),
  $strLenBytes: strLen('bytes'),
  $indexOfCP: indexOf('cp'),
  $indexOfBytes: indexOf('bytes'),
  $strcasecmp: strcasecmp,
  $replaceOne: replace(false),
  $replaceAll: replace(true),
  $regexMatch: regexOp('match'),
  $regexFind: regexOp('find'),
  $regexFindAll: regexOp('findAll'),
};
