// Arithmetic expression operators ($add … $log10). A null or missing operand
// makes the result null; any other non-number is refused naming the operator,
// as MongoDB does.

import { Decimal128 } from 'bson';
import {
  badQuery,
  compileArgs,
  isDecimal,
  isNullish,
  typeLabel,
  type ExprCompiler,
  type Node,
  type OpTable,
  type Value,
} from './agg-expr-core.js';
import type { DocValue } from './doc-types.js';
import { arith, fromDouble, isInt32, isNum, isZero, roundAt, toJsNumber, wholeNumber, type Num } from './agg-expr-num.js';

function requireNum(v: Value, op: string): Num {
  if (!isNum(v)) throw badQuery(`${op} only supports numeric types, not ${typeLabel(v)}`);
  return v;
}

function add(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 0, Infinity);
  return (s) => {
    let total: Num = 0;
    let date: Date | null = null;
    for (const n of nodes) {
      const v = n(s);
      if (isNullish(v)) return null;
      if (v instanceof Date) {
        if (date !== null) throw badQuery('$add only supports one date');
        date = v;
      } else if (isNum(v)) {
        total = arith(total, v, 'add');
      } else {
        throw badQuery(`$add only supports numeric or date types, not ${typeLabel(v)}`);
      }
    }
    return date === null ? total : new Date(date.getTime() + Math.round(toJsNumber(total)));
  };
}

function subtract(args: DocValue, c: ExprCompiler, op: string): Node {
  const [a, b] = compileArgs(args, c, op, 2);
  return (s) => {
    const x = a(s);
    const y = b(s);
    if (isNullish(x) || isNullish(y)) return null;
    if (x instanceof Date && y instanceof Date) return x.getTime() - y.getTime();
    if (x instanceof Date && isNum(y)) return new Date(x.getTime() - Math.round(toJsNumber(y)));
    if (isNum(x) && isNum(y)) return arith(x, y, 'sub');
    throw badQuery(`$subtract cannot subtract ${typeLabel(y)} from ${typeLabel(x)}`);
  };
}

function multiply(args: DocValue, c: ExprCompiler, op: string): Node {
  const nodes = compileArgs(args, c, op, 0, Infinity);
  return (s) => {
    let product: Num = 1;
    for (const n of nodes) {
      const v = n(s);
      if (isNullish(v)) return null;
      product = arith(product, requireNum(v, op), 'mul');
    }
    return product;
  };
}

/** Compiles a binary numeric operator whose operands are null-propagating. */
function binaryNum(fn: (x: Num, y: Num, op: string) => Value) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a, b] = compileArgs(args, c, op, 2);
    return (s) => {
      const x = a(s);
      const y = b(s);
      if (isNullish(x) || isNullish(y)) return null;
      return fn(requireNum(x, op), requireNum(y, op), op);
    };
  };
}

/** Compiles a unary numeric operator (array-of-one or bare argument). */
function unaryNum(fn: (x: Num, op: string) => Value) {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a] = compileArgs(args, c, op, 1);
    return (s) => {
      const x = a(s);
      if (isNullish(x)) return null;
      return fn(requireNum(x, op), op);
    };
  };
}

function divide(x: Num, y: Num): Num {
  if (isZero(y)) throw badQuery("can't $divide by zero");
  const r = toJsNumber(x) / toJsNumber(y);
  return isDecimal(x) ? fromDouble(r, x) : fromDouble(r, y);
}

function mod(x: Num, y: Num): Num {
  if (isZero(y)) throw badQuery("can't $mod by zero");
  if (typeof x === 'bigint' && typeof y === 'bigint') return x % y;
  if (typeof x === 'bigint' && typeof y === 'number' && Number.isInteger(y)) return x % BigInt(y);
  if (typeof y === 'bigint' && typeof x === 'number' && Number.isInteger(x)) return BigInt(x) % y;
  const r = toJsNumber(x) % toJsNumber(y);
  return isDecimal(x) ? fromDouble(r, x) : fromDouble(r, y);
}

function abs(x: Num): Num {
  if (typeof x === 'bigint') return x < 0n ? -x : x;
  if (typeof x === 'number') return Math.abs(x);
  const s = x.toString();
  return s.startsWith('-') ? Decimal128.fromString(s.slice(1)) : x;
}

function roundOp(mode: 'round' | 'trunc') {
  return (args: DocValue, c: ExprCompiler, op: string): Node => {
    const [a, p] = compileArgs(args, c, op, 1, 2);
    return (s) => {
      const x = a(s);
      const place = p === undefined ? 0 : p(s);
      if (isNullish(x) || isNullish(place)) return null;
      const digits = wholeNumber(place);
      if (digits === null || digits < -20 || digits > 100) {
        throw badQuery(`${op}: place must be an integer between -20 and 100`);
      }
      return roundAt(requireNum(x, op), digits, mode);
    };
  };
}

function pow(x: Num, y: Num): Num {
  const base = toJsNumber(x);
  const exp = toJsNumber(y);
  if (base === 0 && exp < 0) throw badQuery('$pow cannot take a base of 0 and a negative exponent');
  const intBase = typeof x === 'bigint' || (typeof x === 'number' && isInt32(x));
  const intExp = typeof y === 'bigint' || (typeof y === 'number' && isInt32(y));
  if (intBase && intExp && exp >= 0) return intPow(x as number | bigint, exp);
  return fromDouble(Math.pow(base, exp), isDecimal(y) ? y : x);
}

/** Integer power: stays an integer (a long stays a long) until it overflows int64. */
function intPow(x: number | bigint, exp: number): Num {
  if (exp > 64 && x !== 0 && x !== 1 && x !== -1 && x !== 0n && x !== 1n && x !== -1n) {
    return Math.pow(Number(x), exp);
  }
  const r = BigInt(x) ** BigInt(exp);
  if (r < -(2n ** 63n) || r >= 2n ** 63n) return Math.pow(Number(x), exp);
  return typeof x === 'number' ? Number(r) : r;
}

function mathFn(fn: (x: number) => number, check?: (x: number) => string | null) {
  return unaryNum((x, op) => {
    const n = toJsNumber(x);
    const problem = check?.(n) ?? null;
    if (problem !== null) throw badQuery(`${op}'s argument ${problem}, but is ${n}`);
    return fromDouble(fn(n), x);
  });
}

const positive = (n: number): string | null => (n > 0 || Number.isNaN(n) ? null : 'must be a positive number');

function log(x: Num, y: Num): Num {
  const n = toJsNumber(x);
  const b = toJsNumber(y);
  if (!(n > 0)) throw badQuery(`$log's argument must be a positive number, but is ${n}`);
  if (!(b > 0) || b === 1) throw badQuery(`$log's base must be a positive number not equal to 1, but is ${b}`);
  return fromDouble(Math.log(n) / Math.log(b), x);
}

function ceilFloor(fn: (x: number) => number) {
  return unaryNum((x) => (typeof x === 'bigint' ? x : fromDouble(fn(toJsNumber(x)), x)));
}

export const ARITH_OPS: OpTable = {
  $add: add,
  $subtract: subtract,
  $multiply: multiply,
  $divide: binaryNum(divide),
  $mod: binaryNum(mod),
  $pow: binaryNum(pow),
  $log: binaryNum(log),
  $abs: unaryNum(abs),
  $ceil: ceilFloor(Math.ceil),
  $floor: ceilFloor(Math.floor),
  $round: roundOp('round'),
  $trunc: roundOp('trunc'),
  $sqrt: mathFn(Math.sqrt, (n) => (n >= 0 || Number.isNaN(n) ? null : 'must be greater than or equal to 0')),
  $exp: mathFn(Math.exp),
  $ln: mathFn(Math.log, positive),
  $log10: mathFn(Math.log10, positive),
};
