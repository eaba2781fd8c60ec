// $inc and $mul arithmetic with MongoDB's update type rules (the table in the
// $mul documentation): int op int is int, or long when it leaves int32; any
// long makes long; any double makes double; any decimal makes decimal; an
// integer result past int64 is an error (MongoDB: "Integer operations of any
// type that exceed the maximum value for a 64-bit integer produce an error").
// In this store an integral JS number in int32 range is an int, so an
// integral double such as 2.0 behaves as an int (see doc-types.ts).

import type { Decimal128 } from 'bson';
import { isDecimal, isInt32 } from './bson-types.js';
import { arith } from './agg-expr-num.js';

export type Num = number | bigint | Decimal128;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export type ArithOp = 'add' | 'mul';

/** a op b, or null when an integer result overflows int64. */
export function updateArith(a: Num, b: Num, op: ArithOp): Num | null {
  if (isDecimal(a) || isDecimal(b)) return arith(a, b, op);
  if (isDouble(a) || isDouble(b)) {
    const x = Number(a);
    const y = Number(b);
    return op === 'add' ? x + y : x * y;
  }
  const x = BigInt(a as number | bigint);
  const y = BigInt(b as number | bigint);
  const r = op === 'add' ? x + y : x * y;
  if (r < INT64_MIN || r > INT64_MAX) return null;
  const bothInt = typeof a === 'number' && typeof b === 'number';
  return bothInt && r >= -2147483648n && r <= 2147483647n ? Number(r) : r;
}

function isDouble(v: Num): boolean {
  return typeof v === 'number' && !isInt32(v);
}
