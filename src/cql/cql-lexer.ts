// The CQL lexer: statement text → tokens, following Cassandra's Lexer.g for
// the forms our subset uses: 'strings' ('' escapes) and $$pg-style$$
// strings, "quoted names" ("" escapes), integers with an optional minus,
// floats (1.5, 1., 2e10), unquoted UUIDs, 0x… blobs, identifiers (keywords
// are words: the parser decides), ? and :name bind markers, punctuation and
// the three comment forms (--, //, /* */). Errors are SyntaxException with
// Cassandra's "line L:C" positions (line from 1, column from 0).

import { MantisError } from '../../shared/errors.js';
import type { CqlPos } from './cql-ast.js';

export type TokenKind =
  | 'word' // identifier or keyword, as written (compare case-insensitively)
  | 'quoted' // "Quoted Name", content unescaped
  | 'string' // 'text' or $$text$$, content unescaped
  | 'integer'
  | 'float'
  | 'uuid'
  | 'hex' // 0x… (text keeps the 0x)
  | 'qmark'
  | 'named' // :name (text: the name, lower-cased unless quoted)
  | 'punct' // ( ) , ; . * = < <= > >= != { } [ ] : + -
  | 'eof';

export type Token = {
  readonly kind: TokenKind;
  readonly text: string;
  /** words: the text lower-cased (keywords and unquoted names compare on it); other tokens: the text. */
  readonly lower: string;
  readonly pos: CqlPos;
  /** offset in the input */
  readonly offset: number;
};

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;

export function syntaxError(pos: CqlPos, message: string): MantisError {
  return new MantisError('SyntaxException', `line ${pos.line}:${pos.col} ${message}`);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Splits a statement into tokens (the last one is eof). */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = input.length;
  const posAt = (offset: number): CqlPos => ({ line, col: offset - lineStart });
  const push = (kind: TokenKind, text: string, pos: CqlPos, offset: number): void => {
    tokens.push({ kind, text, lower: kind === 'word' ? text.toLowerCase() : text, pos, offset });
  };
  /** Advances over text that may hold newlines (strings, comments), keeping line and column right. */
  const advanceTo = (end: number): void => {
    for (let k = i; k < end; k++) {
      if (input.charCodeAt(k) === 10) {
        line++;
        lineStart = k + 1;
      }
    }
    i = end;
  };
  while (i < n) {
    const c = input.charCodeAt(i);
    // whitespace
    if (c === 32 || c === 9 || c === 13 || c === 10) {
      advanceTo(i + 1);
      continue;
    }
    // comments
    if ((c === 45 && input.charCodeAt(i + 1) === 45) || (c === 47 && input.charCodeAt(i + 1) === 47)) {
      let end = i + 2;
      while (end < n && input.charCodeAt(end) !== 10 && input.charCodeAt(end) !== 13) end++;
      advanceTo(end);
      continue;
    }
    if (c === 47 && input.charCodeAt(i + 1) === 42) {
      const end = input.indexOf('*/', i + 2);
      if (end < 0) throw syntaxError(posAt(i), "mismatched character '<EOF>' expecting '*/'");
      advanceTo(end + 2);
      continue;
    }
    const pos = posAt(i);
    const start = i;
    // strings
    if (c === 39) {
      let text = '';
      let k = i + 1;
      for (;;) {
        const q = input.indexOf("'", k);
        if (q < 0) {
          advanceTo(n);
          throw syntaxError(posAt(n), "mismatched character '<EOF>' expecting '''");
        }
        text += input.slice(k, q);
        if (input.charCodeAt(q + 1) === 39) {
          text += "'";
          k = q + 2;
          continue;
        }
        k = q + 1;
        break;
      }
      push('string', text, pos, start);
      advanceTo(k);
      continue;
    }
    if (c === 36 && input.charCodeAt(i + 1) === 36) {
      const end = input.indexOf('$$', i + 2);
      if (end < 0) {
        advanceTo(n);
        throw syntaxError(posAt(n), "mismatched character '<EOF>' expecting '$'");
      }
      push('string', input.slice(i + 2, end), pos, start);
      advanceTo(end + 2);
      continue;
    }
    // quoted names
    if (c === 34) {
      let text = '';
      let k = i + 1;
      for (;;) {
        const q = input.indexOf('"', k);
        if (q < 0) {
          advanceTo(n);
          throw syntaxError(posAt(n), "mismatched character '<EOF>' expecting '\"'");
        }
        text += input.slice(k, q);
        if (input.charCodeAt(q + 1) === 34) {
          text += '"';
          k = q + 2;
          continue;
        }
        k = q + 1;
        break;
      }
      if (text === '') throw syntaxError(pos, 'no viable alternative at input \'""\' (empty quoted identifiers are not allowed)');
      push('quoted', text, pos, start);
      advanceTo(k);
      continue;
    }
    // uuid (before numbers and words: it may start with either)
    if (isHex(c) && input.charCodeAt(i + 8) === 45) {
      const m = UUID_RE.exec(input.slice(i, i + 36));
      if (m !== null && !isWordChar(input.charCodeAt(i + 36))) {
        push('uuid', m[0], pos, start);
        i += 36;
        continue;
      }
    }
    // hex blobs
    if (c === 48 && (input.charCodeAt(i + 1) === 120 || input.charCodeAt(i + 1) === 88)) {
      let k = i + 2;
      while (k < n && isHex(input.charCodeAt(k))) k++;
      push('hex', input.slice(i, k), pos, start);
      i = k;
      continue;
    }
    // numbers (an optional leading minus belongs to the literal, as in Cassandra's INTEGER)
    if (isDigit(c) || (c === 45 && isDigit(input.charCodeAt(i + 1)))) {
      let k = c === 45 ? i + 1 : i;
      while (k < n && isDigit(input.charCodeAt(k))) k++;
      let float = false;
      if (input.charCodeAt(k) === 46 && input.charCodeAt(k + 1) !== 46) {
        float = true;
        k++;
        while (k < n && isDigit(input.charCodeAt(k))) k++;
      }
      const e = input.charCodeAt(k);
      if (e === 101 || e === 69) {
        let m = k + 1;
        if (input.charCodeAt(m) === 43 || input.charCodeAt(m) === 45) m++;
        if (isDigit(input.charCodeAt(m))) {
          while (m < n && isDigit(input.charCodeAt(m))) m++;
          float = true;
          k = m;
        }
      }
      push(float ? 'float' : 'integer', input.slice(i, k), pos, start);
      i = k;
      continue;
    }
    // words
    if (isLetter(c)) {
      let k = i + 1;
      while (k < n && isWordChar(input.charCodeAt(k))) k++;
      push('word', input.slice(i, k), pos, start);
      i = k;
      continue;
    }
    // bind markers
    if (c === 63) {
      push('qmark', '?', pos, start);
      i++;
      continue;
    }
    if (c === 58 && (isLetter(input.charCodeAt(i + 1)) || input.charCodeAt(i + 1) === 34)) {
      if (input.charCodeAt(i + 1) === 34) {
        const q = input.indexOf('"', i + 2);
        if (q < 0) throw syntaxError(pos, "mismatched character '<EOF>' expecting '\"'");
        push('named', input.slice(i + 2, q), pos, start);
        i = q + 1;
      } else {
        let k = i + 2;
        while (k < n && isWordChar(input.charCodeAt(k))) k++;
        push('named', input.slice(i + 1, k).toLowerCase(), pos, start);
        i = k;
      }
      continue;
    }
    // punctuation
    const two = input.slice(i, i + 2);
    if (two === '<=' || two === '>=' || two === '!=') {
      push('punct', two, pos, start);
      i += 2;
      continue;
    }
    if ('(),;.*=<>{}[]:+-'.includes(input[i])) {
      push('punct', input[i], pos, start);
      i++;
      continue;
    }
    throw syntaxError(pos, `no viable alternative at character '${input[i]}'`);
  }
  tokens.push({ kind: 'eof', text: '<EOF>', lower: '<EOF>', pos: posAt(n), offset: n });
  return tokens;
}

function isWordChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 95;
}
