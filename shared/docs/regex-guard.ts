// A guard against regular expressions that can take exponential time. JS
// RegExp runs to completion on the thread that calls it — a shard, or the
// router for a validator's pattern — with no time limit, so a pattern such as
// (a+)+ against "aaaa…b" would hold that thread indefinitely. Refused:
// - a group containing an unbounded quantifier (+, *, {n,}, or a count of 16
//   or more) that is itself repeated (+, *, {n,}, or a count of 2 or more):
//   (a+)+, (a+){2,12}, (x*y)*;
// - a repeated group whose alternatives can begin with the same character:
//   (a|aa)+, (\w|\d)*. Alternatives with distinct literal first characters,
//   as (foo|bar)+, pass.
// What it does not catch (e.g. long runs of optional groups) is documented.

const LARGE_BOUND = 16;

/** An alternative's leading literal text; `any` when it starts with a class, escape class, dot or group. */
type Alt = { text: string; collecting: boolean; any: boolean };

/** A group being read: an unbounded quantifier inside; its alternatives' leading literals. */
type Frame = { inner: boolean; alts: Alt[] };

const ANY = '\u0000any';

type Quantifier = { readonly unbounded: boolean; readonly repeats: boolean; readonly end: number };

/** True when the pattern has one of the shapes above. */
export function nestsUnboundedQuantifiers(source: string): boolean {
  const stack: Frame[] = [frame()];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    const top = stack[stack.length - 1];
    if (ch === '\\') {
      const token = escapeToken(source[i + 1]);
      i = noteAtom(top, token, source, i + 2, stack);
    } else if (ch === '[') {
      i = noteAtom(top, ANY, source, skipClass(source, i), stack);
    } else if (ch === '(') {
      noteAtom(top, ANY, source, i, stack);
      stack.push(frame());
      i = skipGroupPrefix(source, i + 1);
    } else if (ch === '|') {
      top.alts.push(alt());
      i++;
    } else if (ch === ')') {
      const group = stack.length > 1 ? (stack.pop() as Frame) : frame();
      i++;
      const q = quantifierAt(source, i);
      if (q !== null && q.repeats && group.inner) return true;
      if (q !== null && q.unbounded && overlapping(group.alts)) return true;
      if (group.inner || (q !== null && q.unbounded)) stack[stack.length - 1].inner = true;
      if (q !== null) i = q.end;
    } else {
      i = noteAtom(top, ch === '.' ? ANY : ch === '^' || ch === '$' ? '' : ch, source, i + 1, stack);
    }
  }
  return false;
}

function frame(): Frame {
  return { inner: false, alts: [alt()] };
}

function alt(): Alt {
  return { text: '', collecting: true, any: false };
}

/**
 * An atom ending at `end` ('' for anchors, ANY for classes and groups): it extends the current
 * alternative's leading literal while that is plain text; a quantifier on it ends the literal.
 * Returns the position past its quantifier.
 */
function noteAtom(top: Frame, token: string, source: string, end: number, stack: Frame[]): number {
  const current = top.alts[top.alts.length - 1];
  if (current.collecting && token !== '') {
    if (token === ANY) {
      if (current.text === '') current.any = true;
      current.collecting = false;
    } else {
      current.text += token;
    }
  }
  const next = afterAtom(source, end, stack);
  if (next !== end) current.collecting = false;
  return next;
}

function escapeToken(ch: string | undefined): string {
  if (ch === undefined) return '';
  if ('bB'.includes(ch)) return '';
  return /[dDwWsSpPuxc0-9]/.test(ch) ? ANY : ch;
}

/** Two alternatives can match the same beginning: one's leading literal starts the other's, or one starts with a class. */
function overlapping(alts: readonly Alt[]): boolean {
  if (alts.length < 2) return false;
  for (let i = 0; i < alts.length; i++) {
    for (let j = i + 1; j < alts.length; j++) {
      const [a, b] = [alts[i], alts[j]];
      if (a.any || b.any || a.text.startsWith(b.text) || b.text.startsWith(a.text)) return true;
    }
  }
  return false;
}

/** Past an atom ending at `at`: records an unbounded quantifier on it in the current frame. */
function afterAtom(source: string, at: number, stack: Frame[]): number {
  const q = quantifierAt(source, at);
  if (q === null) return at;
  if (q.unbounded) stack[stack.length - 1].inner = true;
  return q.end;
}

function quantifierAt(source: string, at: number): Quantifier | null {
  const ch = source[at];
  let end: number;
  let unbounded: boolean;
  let repeats: boolean;
  if (ch === '*' || ch === '+') {
    end = at + 1;
    unbounded = repeats = true;
  } else if (ch === '?') {
    end = at + 1;
    unbounded = repeats = false;
  } else if (ch === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
    if (m === null) return null;
    end = at + m[0].length;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    unbounded = max >= LARGE_BOUND;
    repeats = max >= 2;
  } else {
    return null;
  }
  // Lazy or possessive markers do not change what can backtrack.
  if (source[end] === '?' || source[end] === '+') end++;
  return { unbounded, repeats, end };
}

/** Past `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!`, `(?<name>`. */
function skipGroupPrefix(source: string, at: number): number {
  if (source[at] !== '?') return at;
  if (source[at + 1] === '<' && source[at + 2] !== '=' && source[at + 2] !== '!') {
    const close = source.indexOf('>', at);
    return close < 0 ? at + 2 : close + 1;
  }
  return source[at + 1] === '<' ? at + 3 : at + 2;
}

function skipClass(source: string, at: number): number {
  let i = at + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') i++;
  while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
  return i + 1;
}
