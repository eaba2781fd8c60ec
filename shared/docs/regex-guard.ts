// A guard against regular expressions that can take exponential time. JS
// RegExp runs to completion on the thread that calls it — a shard — with no
// time limit, so a pattern such as (a+)+ against "aaaa…b" would hold a shard
// indefinitely. The classic cause is an unbounded quantifier applied to a
// group that itself contains an unbounded quantifier (star height 2): such
// patterns are refused. Bounded repeats ({0,1}, {2,5}) are not counted;
// {n,} and large counts ({n,m} with m ≥ 16, {n} with n ≥ 16) are.

const LARGE_BOUND = 16;

type Frame = { inner: boolean };

/** True when an unbounded quantifier applies to a group containing one. */
export function nestsUnboundedQuantifiers(source: string): boolean {
  const stack: Frame[] = [{ inner: false }];
  let i = 0;
  while (i < source.length) {
    const ch = source[i];
    if (ch === '\\') {
      i += 2;
      i = afterQuantifier(source, i, stack);
    } else if (ch === '[') {
      i = skipClass(source, i);
      i = afterQuantifier(source, i, stack);
    } else if (ch === '(') {
      stack.push({ inner: false });
      i++;
    } else if (ch === ')') {
      const group = stack.length > 1 ? (stack.pop() as Frame) : { inner: false };
      i++;
      const q = quantifierAt(source, i);
      if (q !== null && q.unbounded && group.inner) return true;
      if (group.inner || (q !== null && q.unbounded)) stack[stack.length - 1].inner = true;
      if (q !== null) i = q.end;
    } else {
      i = afterQuantifier(source, i + 1, stack);
    }
  }
  return false;
}

/** Past an atom ending at `at`: records an unbounded quantifier on it in the current frame. */
function afterQuantifier(source: string, at: number, stack: Frame[]): number {
  const q = quantifierAt(source, at);
  if (q === null) return at;
  if (q.unbounded) stack[stack.length - 1].inner = true;
  return q.end;
}

function quantifierAt(source: string, at: number): { unbounded: boolean; end: number } | null {
  const ch = source[at];
  let end: number;
  let unbounded: boolean;
  if (ch === '*' || ch === '+') {
    end = at + 1;
    unbounded = true;
  } else if (ch === '?') {
    end = at + 1;
    unbounded = false;
  } else if (ch === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
    if (m === null) return null;
    end = at + m[0].length;
    unbounded = m[2] === undefined ? Number(m[1]) >= LARGE_BOUND : m[3] === '' || Number(m[3]) >= LARGE_BOUND;
  } else {
    return null;
  }
  // Lazy or possessive markers do not change what can backtrack.
  if (source[end] === '?' || source[end] === '+') end++;
  return { unbounded, end };
}

function skipClass(source: string, at: number): number {
  let i = at + 1;
  if (source[i] === '^') i++;
  if (source[i] === ']') i++;
  while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
  return i + 1;
}
