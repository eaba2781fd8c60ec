// The field update operators as compiled leaves: $set $setOnInsert $unset
// $inc $mul $min $max $currentDate $bit and the two halves of $rename. Each
// compile function checks its argument the way MongoDB's parser does (same
// messages) and returns a LeafOp; runtime errors (a non-numeric field under
// $inc, ...) are thrown from the leaf with the document's _id named.

import { isDoc, isNumeric, typeName } from './bson-types.js';
import { compareValues } from './compare.js';
import type { DocValue } from './doc-types.js';
import { updateArith, type ArithOp, type Num } from './update-numeric.js';
import { REMOVE, type LeafOp, type Run, type Site } from './update-types.js';
import { badUpdate, cloneValue, describe, describeId, identical } from './update-util.js';

function nothing(): undefined {
  return undefined;
}

export function compileSet(arg: DocValue, insertOnly: boolean): LeafOp {
  return {
    name: insertOnly ? '$setOnInsert' : '$set',
    missing: 'create',
    insertOnly,
    existing: (cur) => (identical(cur, arg) ? cur : cloneValue(arg)),
    create: () => cloneValue(arg),
  };
}

export function compileUnset(): LeafOp {
  return {
    name: '$unset',
    missing: 'skip',
    insertOnly: false,
    // An array element is nulled, not removed, so later positions keep their index.
    existing: (cur, site) => (site.parentIsArray ? (cur === null ? cur : null) : REMOVE),
    create: nothing,
  };
}

export function compileArith(op: '$inc' | '$mul', field: string, arg: DocValue): LeafOp {
  const verb = op === '$inc' ? 'increment' : 'multiply';
  if (!isNumeric(arg)) {
    throw badUpdate(`Cannot ${verb} with non-numeric argument: {${field}: ${describe(arg)}}`);
  }
  const kind: ArithOp = op === '$inc' ? 'add' : 'mul';
  const apply = (cur: Num, run: Run, site: Site): Num => {
    const r = updateArith(cur, arg, kind);
    if (r === null) {
      throw badUpdate(
        `Failed to apply ${op} operations to current value (${describe(cur)}) for document {${describeId(run.docId)}}: the result overflows a 64-bit integer at '${site.path.join('.')}'`,
      );
    }
    return r;
  };
  return {
    name: op,
    missing: 'create',
    insertOnly: false,
    existing(cur, site, run) {
      if (!isNumeric(cur)) {
        throw badUpdate(
          `Cannot apply ${op} to a value of non-numeric type. {${describeId(run.docId)}} has the field '${site.path[site.path.length - 1]}' of non-numeric type ${typeName(cur)}`,
        );
      }
      const r = apply(cur, run, site);
      return identical(r, cur) ? cur : r;
    },
    // $inc creates the argument; $mul creates a zero of the argument's type.
    create: () => (op === '$inc' ? cloneValue(arg) : (updateArith(arg, 0, 'mul') as Num)),
  };
}

export function compileMinMax(op: '$min' | '$max', arg: DocValue): LeafOp {
  const want = op === '$min' ? -1 : 1;
  return {
    name: op,
    missing: 'create',
    insertOnly: false,
    existing: (cur) => (Math.sign(compareValues(arg, cur)) === want ? cloneValue(arg) : cur),
    create: () => cloneValue(arg),
  };
}

export function compileCurrentDate(field: string, arg: DocValue): LeafOp {
  checkCurrentDateArg(field, arg);
  return {
    name: '$currentDate',
    missing: 'create',
    insertOnly: false,
    // MongoDB counts $currentDate as a modification even when the time is equal.
    existing: (_cur, _site, run) => new Date(run.now.getTime()),
    create: (_site, run) => new Date(run.now.getTime()),
  };
}

function checkCurrentDateArg(field: string, arg: DocValue): void {
  if (typeof arg === 'boolean') return;
  if (!isDoc(arg)) {
    throw badUpdate(
      `${typeName(arg)} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`,
    );
  }
  for (const k of Object.keys(arg)) {
    if (k !== '$type') throw badUpdate(`Unrecognized $currentDate option: ${k}`);
  }
  // Timestamps are not in this store's value model: both types store a Date.
  if (arg.$type !== 'date' && arg.$type !== 'timestamp') {
    throw badUpdate(
      `The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {${field}: {$type: 'date'}}}`,
    );
  }
}

type BitOp = 'and' | 'or' | 'xor';

export function compileBit(field: string, arg: DocValue): LeafOp {
  const steps = parseBitArg(field, arg);
  return {
    name: '$bit',
    missing: 'create',
    insertOnly: false,
    existing(cur, site, run) {
      if (!isInteger(cur)) {
        throw badUpdate(
          `Cannot apply $bit to a value of non-integral type.{${describeId(run.docId)}} has the field ${site.path[site.path.length - 1]} of non-integer type ${typeName(cur)}`,
        );
      }
      const r = applyBits(cur, steps);
      return identical(r, cur) ? cur : r;
    },
    create: () => applyBits(0, steps),
  };
}

function isInteger(v: DocValue): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && typeName(v) === 'int');
}

function parseBitArg(field: string, arg: DocValue): Array<[BitOp, number | bigint]> {
  if (!isDoc(arg)) {
    throw badUpdate(
      `The $bit modifier is not compatible with a ${typeName(arg)}. You must pass in an embedded document: {$bit: {${field}: {and/or/xor: #}}`,
    );
  }
  const steps: Array<[BitOp, number | bigint]> = [];
  for (const k of Object.keys(arg)) {
    if (k !== 'and' && k !== 'or' && k !== 'xor') {
      throw badUpdate(`The $bit modifier only supports 'and', 'or', and 'xor', not '${k}' which is an unknown operator: {${k}: ${describe(arg[k])}}`);
    }
    const v = arg[k];
    if (!isInteger(v)) {
      throw badUpdate(`The $bit modifier field must be an Integer(32/64 bit); a '${typeName(v)}' is not supported here: {${k}: ${describe(v)}}`);
    }
    steps.push([k, v]);
  }
  if (steps.length === 0) {
    throw badUpdate(`You must pass in at least one bitwise operation. The format is: {$bit: {field: {and/or/xor: #}}`);
  }
  return steps;
}

/** int op int stays int; any long makes long (MongoDB's $bit rule). */
function applyBits(start: number | bigint, steps: Array<[BitOp, number | bigint]>): number | bigint {
  let acc = start;
  for (const [op, v] of steps) {
    if (typeof acc === 'number' && typeof v === 'number') {
      acc = op === 'and' ? acc & v : op === 'or' ? acc | v : acc ^ v;
    } else {
      const x = BigInt.asIntN(64, BigInt(acc));
      const y = BigInt(v);
      acc = BigInt.asIntN(64, op === 'and' ? x & y : op === 'or' ? x | y : x ^ y);
    }
  }
  return acc;
}

/**
 * The destination half of {$rename: {source: dest}}: writes the source's value
 * (looked up in the input document before the walk, see resolveRenameSources).
 */
export function compileRenameTarget(source: string, dest: string): LeafOp {
  const value = (site: Site, run: Run): DocValue | undefined => {
    const v = run.renameSources.get(source);
    if (v !== undefined && site.throughArray) {
      throw badUpdate(
        `The destination field cannot be an array element, '${dest}' in doc with ${describeId(run.docId)} has an array field on its path`,
      );
    }
    return v;
  };
  return {
    name: '$rename',
    missing: 'create',
    insertOnly: false,
    existing(cur, site, run) {
      const v = value(site, run);
      return v === undefined || identical(v, cur) ? cur : v;
    },
    create: (site, run) => value(site, run),
  };
}

/** The source half of a $rename: removed when the rename happens. */
export function compileRenameSource(source: string): LeafOp {
  return {
    name: '$rename',
    missing: 'skip',
    insertOnly: false,
    existing: (cur, _site, run) => (run.renameSources.get(source) === undefined ? cur : REMOVE),
    create: nothing,
  };
}
