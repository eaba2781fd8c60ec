// The SQL layer's value semantics (sql-cast, sql-operators, sql-functions) against
// PostgreSQL 15. The *_CASES tables below were produced by running each expression on a
// real PostgreSQL 15.18 (TimeZone UTC, psql's text output; NULL shown as <NULL>, errors as
// "ERROR <sqlstate>: <message>") and pasted here as literals: the test never starts a server.
//
// An operand / argument is written "type:text" (the text cast to the type, as 'text'::type;
// "unknown:text" is an untyped literal) or a bare "type" for a typed NULL.
//
// Known gap: PostgreSQL's numeric keeps its scale ('2.50', extract(epoch …) = '….250000'),
// ours is a double; expectations are compared with trailing fractional zeros stripped.

import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { castValue, commonType, compareValues, hashKeyOf, implicitCastable, jsonToValue, NULL_HASH_KEY, valueToJson, valueToText } from '../../src/sql/sql-cast.js';
import { sqlstateOf } from '../../src/sql/sql-errors.js';
import { resolveFunction, type EvalContext } from '../../src/sql/sql-functions.js';
import { resolveOperator } from '../../src/sql/sql-operators.js';
import { Interval, Jsonb, type SqlType, type Value } from '../../src/sql/sql-types.js';

const CTX: EvalContext = { nowUs: Date.UTC(2024, 4, 17, 10, 11, 12, 345) * 1000 + 678 };

/** "type:text" → [value, type]; a bare "type" → [null, type]. */
function operand(spec: string): [Value, SqlType] {
  const i = spec.indexOf(':');
  if (i < 0) return [null, spec as SqlType];
  const type = spec.slice(0, i) as SqlType;
  const text = spec.slice(i + 1);
  return [type === 'unknown' ? text : castValue(text, 'text', type), type];
}

/** The text PostgreSQL's psql shows for a result, or "ERROR <sqlstate>: <message>". */
function shown(run: () => [Value, SqlType]): string {
  try {
    const [v, t] = run();
    if (v === null) return '<NULL>';
    // psql shows a boolean by its output function (t / f); ::text gives 'true' / 'false'.
    return t === 'bool' ? (v ? 't' : 'f') : valueToText(v, t);
  } catch (error) {
    if (error instanceof MantisError) return `ERROR ${sqlstateOf(error)}: ${error.message}`;
    throw error;
  }
}

/** Strips trailing fractional zeros of a decimal (numeric's scale, which we do not keep). */
function unscaled(s: string): string {
  return /^-?\d+\.\d*0$/.test(s) ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function evalOperator(left: string | null, op: string, right: string): string {
  return shown(() => {
    const [rv, rt] = operand(right);
    const [lv, lt] = left === null ? [null, null] : operand(left);
    const impl = resolveOperator(op, lt, rt);
    const l = lt === null || impl.left === null ? null : castValue(lv, lt, impl.left);
    const r = castValue(rv, rt, impl.right);
    if ((left !== null && l === null) || r === null) return [null, impl.returns];
    return [impl.call(l, r), impl.returns];
  });
}

function evalFunction(name: string, args: readonly string[]): string {
  return shown(() => {
    const ops = args.map(operand);
    const impl = resolveFunction(name, ops.map(([, t]) => t));
    const vals = ops.map(([v, t], i) => castValue(v, t, impl.args[i]));
    if (impl.strict && vals.some((v) => v === null)) return [null, impl.returns];
    return [impl.call(vals, CTX), impl.returns];
  });
}

function evalCast(value: string, to: SqlType): string {
  return shown(() => {
    const [v, t] = operand(value);
    return [castValue(v, t, to), to];
  });
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof MantisError) return `ERROR ${sqlstateOf(error)}: ${error.message}`;
    throw error;
  }
  throw new Error('expected an error');
}

const OPERATOR_CASES: readonly (readonly [string | null, string, string, string])[] = [
  ["int4:7", "/", "int4:2", "3"],
  ["int4:-7", "/", "int4:2", "-3"],
  ["int4:-7", "%", "int4:2", "-1"],
  ["int4:7", "%", "int4:-2", "1"],
  ["int4:1", "/", "int4:0", "ERROR 22012: division by zero"],
  ["int4:1", "%", "int4:0", "ERROR 22012: division by zero"],
  ["int2:1", "%", "int2:0", "ERROR 22012: division by zero"],
  ["int8:5", "/", "int8:0", "ERROR 22012: division by zero"],
  ["int4:2147483647", "+", "int4:1", "ERROR 22003: integer out of range"],
  ["int4:-2147483648", "-", "int4:1", "ERROR 22003: integer out of range"],
  ["int4:65536", "*", "int4:65536", "ERROR 22003: integer out of range"],
  ["int4:-2147483648", "/", "int4:-1", "ERROR 22003: integer out of range"],
  ["int4:-2147483648", "%", "int4:-1", "0"],
  ["int2:32767", "+", "int2:1", "ERROR 22003: smallint out of range"],
  ["int2:-32768", "/", "int2:-1", "ERROR 22003: smallint out of range"],
  ["int2:200", "*", "int2:200", "ERROR 22003: smallint out of range"],
  ["int8:9223372036854775807", "+", "int8:1", "ERROR 22003: bigint out of range"],
  ["int8:-9223372036854775808", "/", "int8:-1", "ERROR 22003: bigint out of range"],
  ["int8:4611686018427387904", "*", "int8:2", "ERROR 22003: bigint out of range"],
  ["int8:9007199254740993", "+", "int8:1", "9007199254740994"],
  ["int8:9223372036854775806", "-", "int8:9223372036854775807", "-1"],
  ["int8:3037000499", "*", "int8:3037000499", "9223372030926249001"],
  ["int8:-9223372036854775807", "/", "int8:10", "-922337203685477580"],
  ["int8:-9223372036854775807", "%", "int8:10", "-7"],
  ["int2:30000", "+", "int4:30000", "60000"],
  ["int4:2147483647", "+", "int8:1", "2147483648"],
  ["int2:7", "/", "int2:2", "3"],
  [null, "-", "int4:-2147483648", "ERROR 22003: integer out of range"],
  [null, "-", "int2:-32768", "ERROR 22003: smallint out of range"],
  [null, "-", "int8:-9223372036854775808", "ERROR 22003: bigint out of range"],
  [null, "-", "int4:5", "-5"],
  [null, "+", "int4:5", "5"],
  ["int4:1", "+", "numeric:1.5", "2.5"],
  ["int4:1", "+", "float8:1.5", "2.5"],
  ["float4:1", "/", "int4:3", "0.3333333333333333"],
  ["float4:1", "/", "float4:3", "0.33333334"],
  ["int8:1", "+", "float4:0.5", "1.5"],
  ["numeric:7.5", "%", "numeric:-2", "1.5"],
  ["numeric:1", "/", "numeric:0", "ERROR 22012: division by zero"],
  ["numeric:1", "/", "numeric:4", "0.25000000000000000000"],
  ["numeric:0.1", "+", "numeric:0.2", "0.3"],
  ["numeric:0.1", "*", "numeric:0.2", "0.02"],
  ["numeric:1.5", "*", "numeric:1.25", "1.875"],
  ["numeric:0.1", "-", "numeric:0.3", "-0.2"],
  ["float8:1", "/", "float8:0", "ERROR 22012: division by zero"],
  ["float8:1e308", "*", "float8:10", "ERROR 22003: value out of range: overflow"],
  ["float8:1e-300", "*", "float8:1e-300", "ERROR 22003: value out of range: underflow"],
  ["float8:0.1", "+", "float8:0.2", "0.30000000000000004"],
  ["float8:Infinity", "+", "float8:1", "Infinity"],
  ["float8:NaN", "*", "float8:0", "NaN"],
  ["float8:1", "%", "float8:2", "ERROR 42883: operator does not exist: double precision % double precision"],
  ["float4:3e38", "*", "float4:10", "ERROR 22003: value out of range: overflow"],
  ["int4:1", "+", "text:a", "ERROR 42883: operator does not exist: integer + text"],
  ["int4:1", "||", "int4:2", "ERROR 42883: operator does not exist: integer || integer"],
  ["text:a", "-", "text:b", "ERROR 42883: operator does not exist: text - text"],
  ["unknown:1", "+", "unknown:2", "ERROR 42725: operator is not unique: unknown + unknown"],
  ["date:2024-01-01", "+", "unknown:1 day", "ERROR 42725: operator is not unique: date + unknown"],
  ["int4:1", "+", "unknown:2", "3"],
  ["unknown:2", "*", "int8:3", "6"],
  ["int4:1", "+", "unknown:x", "ERROR 22P02: invalid input syntax for type integer: \"x\""],
  ["int4:12", "&", "int4:10", "8"],
  ["int4:12", "|", "int4:10", "14"],
  ["int4:12", "#", "int4:10", "6"],
  ["int4:1", "<<", "int4:31", "-2147483648"],
  ["int4:-16", ">>", "int4:2", "-4"],
  [null, "~", "int4:5", "-6"],
  ["int2:1", "<<", "int4:15", "-32768"],
  ["int4:1", "=", "numeric:1.0", "t"],
  ["int4:1", "<", "float8:1.5", "t"],
  ["float8:0.1", "=", "numeric:0.1", "t"],
  ["float4:0.1", "=", "float8:0.1", "f"],
  ["int2:1", "=", "int8:1", "t"],
  ["int8:9007199254740993", ">", "int8:9007199254740992", "t"],
  ["int8:9007199254740993", ">", "float8:9007199254740992", "f"],
  ["float8:NaN", "=", "float8:NaN", "t"],
  ["float8:NaN", ">", "float8:Infinity", "t"],
  ["text:a", "<", "text:B", "f"],
  ["text:a", "<", "text:b", "t"],
  ["text:abc", "<", "text:abcd", "t"],
  ["unknown:a", "=", "unknown:a", "t"],
  ["text:é", ">", "text:z", "t"],
  ["bool:false", "<", "bool:true", "t"],
  ["bool:true", "<>", "bool:true", "f"],
  ["bool:true", "!=", "bool:false", "t"],
  ["date:2024-01-02", "=", "timestamp:2024-01-02 00:00:00", "t"],
  ["date:2024-01-02", "<", "timestamptz:2024-01-02 00:00:01+00", "t"],
  ["timestamp:2024-01-02 00:00:00", "=", "timestamptz:2024-01-02 00:00:00+00", "t"],
  ["bytea:\\x0102", "<", "bytea:\\x02", "t"],
  ["bytea:\\x01", "<", "bytea:\\x0100", "t"],
  ["interval:1 mon", "=", "interval:30 days", "t"],
  ["interval:1 day", ">", "interval:23 hours", "t"],
  ["uuid:A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "=", "uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "t"],
  ["jsonb:{\"a\":1,\"b\":2}", "=", "jsonb:{\"b\":2, \"a\":1}", "t"],
  ["jsonb:[1,2]", "<", "jsonb:{}", "t"],
  ["jsonb:\"a\"", "<", "jsonb:1", "t"],
  ["int4:1", "=", "text:1", "ERROR 42883: operator does not exist: integer = text"],
  ["int4:1", "=", "unknown:1", "t"],
  ["int4:1", "=", "int4", "<NULL>"],
  ["int4", "<", "int4:1", "<NULL>"],
  ["text:a", "||", "text:b", "ab"],
  ["unknown:a", "||", "unknown:b", "ab"],
  ["unknown:a", "||", "int4:1", "a1"],
  ["int4:1", "||", "unknown:a", "1a"],
  ["text:a", "||", "bool:true", "atrue"],
  ["text:a", "||", "numeric:1.5", "a1.5"],
  ["text:a", "||", "jsonb:{}", "a{}"],
  ["text:a", "||", "bytea:\\x78", "a\\x78"],
  ["bytea:\\x01", "||", "unknown:a", "\\x0161"],
  ["jsonb:{\"a\":1}", "||", "jsonb:{\"b\":2}", "{\"a\": 1, \"b\": 2}"],
  ["jsonb:[1]", "||", "jsonb:2", "[1, 2]"],
  ["text:a", "||", "text", "<NULL>"],
  ["text:a", "||", "date:2024-01-02", "a2024-01-02"],
  ["jsonb:{\"a\":{\"b\":[1,2]}}", "->", "text:a", "{\"b\": [1, 2]}"],
  ["jsonb:{\"a\":1}", "->", "text:z", "<NULL>"],
  ["jsonb:[10,20,30]", "->", "int4:1", "20"],
  ["jsonb:[10,20,30]", "->", "int4:-1", "30"],
  ["jsonb:[10,20,30]", "->", "int4:5", "<NULL>"],
  ["jsonb:{\"a\":\"x\"}", "->>", "text:a", "x"],
  ["jsonb:{\"a\":{\"b\":1}}", "->>", "text:a", "{\"b\": 1}"],
  ["jsonb:{\"a\":null}", "->>", "text:a", "<NULL>"],
  ["jsonb:{\"a\":null}", "->", "text:a", "null"],
  ["jsonb:[1,\"s\"]", "->>", "int4:1", "s"],
  ["jsonb:{\"a\":1}", "->", "unknown:a", "1"],
  ["jsonb:\"x\"", "->", "text:a", "<NULL>"],
  ["jsonb:{\"a\":1,\"b\":{\"c\":2,\"d\":3}}", "@>", "jsonb:{\"b\":{\"c\":2}}", "t"],
  ["jsonb:{\"a\":1}", "@>", "jsonb:{\"a\":2}", "f"],
  ["jsonb:[1,2,3]", "@>", "jsonb:[3,1]", "t"],
  ["jsonb:[1,2,3]", "@>", "jsonb:2", "t"],
  ["jsonb:[[1,2]]", "@>", "jsonb:[1]", "f"],
  ["jsonb:{\"a\":[1,2]}", "@>", "jsonb:{\"a\":[2]}", "t"],
  ["jsonb:{\"b\":1}", "<@", "jsonb:{\"a\":1,\"b\":1}", "t"],
  ["jsonb:{\"a\":1}", "?", "text:a", "t"],
  ["jsonb:[\"a\",\"b\"]", "?", "text:b", "t"],
  ["jsonb:[1]", "?", "text:1", "f"],
  ["jsonb:\"a\"", "?", "text:a", "t"],
  ["text:abc", "~~", "text:a%", "t"],
  ["text:abc", "~~", "text:a_c", "t"],
  ["text:abc", "~~", "text:A%", "f"],
  ["text:abc", "~~*", "text:A%", "t"],
  ["text:abc", "!~~", "text:%b%", "f"],
  ["text:ABC", "!~~*", "text:%x%", "t"],
  ["text:a%c", "~~", "text:a\\%c", "t"],
  ["text:abc", "~~", "text:a\\%c", "f"],
  ["text:a_c", "~~", "text:a\\_c", "t"],
  ["text:a\\c", "~~", "text:a\\\\c", "t"],
  ["text:abc", "~~", "text:abc\\", "f"],
  ["text:a\nb", "~~", "text:a%b", "t"],
  ["text:a.c", "~~", "text:a.c", "t"],
  ["text:abc", "~~", "text:a.c", "f"],
  ["text:", "~~", "text:%", "t"],
  ["text:(x)", "~~", "text:(%)", "t"],
  ["unknown:abc", "~~", "unknown:a%", "t"],
  ["text:hello", "~", "text:^h.*o$", "t"],
  ["text:Hello", "~*", "text:^h", "t"],
  ["text:hello", "!~", "text:z", "t"],
  ["text:hello", "!~*", "text:L", "f"],
  ["date:2024-01-31", "+", "int4:1", "2024-02-01"],
  ["int4:1", "+", "date:2024-02-28", "2024-02-29"],
  ["date:2024-03-01", "-", "int4:1", "2024-02-29"],
  ["date:2024-03-01", "-", "date:2024-02-01", "29"],
  ["date:2024-01-01", "-", "date:2024-03-01", "-60"],
  ["date:2024-01-31", "+", "interval:1 month", "2024-02-29 00:00:00"],
  ["date:2023-01-31", "+", "interval:1 month", "2023-02-28 00:00:00"],
  ["timestamptz:2024-01-31 10:00:00+00", "+", "interval:1 month", "2024-02-29 10:00:00+00"],
  ["timestamp:2024-03-31 12:00", "-", "interval:1 mon", "2024-02-29 12:00:00"],
  ["timestamp:2024-02-29 00:00", "+", "interval:1 year", "2025-02-28 00:00:00"],
  ["timestamp:2024-01-01 00:00", "+", "interval:1 mon 2 days 03:00:00", "2024-02-03 03:00:00"],
  ["interval:1 day", "+", "date:2024-01-01", "2024-01-02 00:00:00"],
  ["date:2024-01-01", "-", "interval:1 day", "2023-12-31 00:00:00"],
  ["timestamp:2024-01-01 00:00", "-", "interval:1 us", "2023-12-31 23:59:59.999999"],
  ["timestamp:2024-03-01 10:00", "-", "timestamp:2024-01-01", "60 days 10:00:00"],
  ["timestamp:2024-01-01", "-", "timestamp:2024-03-01 10:00", "-60 days -10:00:00"],
  ["timestamptz:2024-01-02 00:00:00+00", "-", "timestamptz:2024-01-01 12:30:00.5+00", "11:29:59.5"],
  ["date:2024-01-02", "-", "timestamp:2024-01-01 06:00", "18:00:00"],
  ["timestamptz:2024-01-02 00:00:00+00", "-", "unknown:2024-01-01", "1 day"],
  ["interval:1 day", "+", "interval:2 hours", "1 day 02:00:00"],
  ["interval:1 mon", "+", "interval:-1 day 02:00:01", "1 mon -1 days +02:00:01"],
  ["interval:1 day", "-", "interval:1 day 01:00", "-01:00:00"],
  [null, "-", "interval:1 day 02:00", "-1 days -02:00:00"],
  ["interval:1 mon 2 days", "*", "float8:1.5", "1 mon 18 days"],
  ["interval:1 day", "*", "int4:3", "3 days"],
  ["int4:2", "*", "interval:1 hour", "02:00:00"],
  ["interval:1 day", "/", "float8:3", "08:00:00"],
  ["interval:1 mon", "/", "int4:7", "4 days 06:51:25.6896"],
  ["interval:1 day", "/", "int4:0", "ERROR 22012: division by zero"],
  ["interval:1 mon", "*", "float8:0.5", "15 days"],
  ["date:2024-01-01", "+", "date:2024-01-01", "ERROR 42883: operator does not exist: date + date"],
];

const FUNCTION_CASES: readonly (readonly [string, readonly string[], string])[] = [
  ["abs", ["int4:-5"], "5"],
  ["abs", ["int4:-2147483648"], "ERROR 22003: integer out of range"],
  ["abs", ["int2:-32768"], "ERROR 22003: smallint out of range"],
  ["abs", ["int8:-9223372036854775808"], "ERROR 22003: bigint out of range"],
  ["abs", ["numeric:-1.5"], "1.5"],
  ["abs", ["float8:-0.25"], "0.25"],
  ["abs", ["int4"], "<NULL>"],
  ["length", ["text:héllo"], "5"],
  ["length", ["text:"], "0"],
  ["char_length", ["text:ab😀"], "3"],
  ["character_length", ["unknown:abc"], "3"],
  ["octet_length", ["text:é"], "2"],
  ["octet_length", ["bytea:\\x0102"], "2"],
  ["length", ["bytea:\\x010203"], "3"],
  ["length", ["int4:1"], "ERROR 42883: function length(integer) does not exist"],
  ["length", ["text"], "<NULL>"],
  ["lower", ["text:ÀBC"], "àbc"],
  ["upper", ["text:abc"], "ABC"],
  ["lower", ["int4:1"], "ERROR 42883: function lower(integer) does not exist"],
  ["initcap", ["text:hello wORLD-foo"], "Hello World-Foo"],
  ["substr", ["text:hello", "int4:0", "int4:3"], "he"],
  ["substr", ["text:hello", "int4:-1", "int4:3"], "h"],
  ["substr", ["text:hello", "int4:2"], "ello"],
  ["substr", ["text:hello", "int4:10"], ""],
  ["substr", ["text:hello", "int4:-5"], "hello"],
  ["substr", ["text:hello", "int4:2", "int4:0"], ""],
  ["substr", ["text:hello", "int4:1", "int4:-1"], "ERROR 22011: negative substring length not allowed"],
  ["substring", ["text:hello", "int4:2", "int4:3"], "ell"],
  ["substr", ["text:a😀b", "int4:2", "int4:1"], "😀"],
  ["substr", ["text:hello", "int4"], "<NULL>"],
  ["btrim", ["text:  x  "], "x"],
  ["btrim", ["text:xxaxx", "text:x"], "a"],
  ["ltrim", ["text:  x  "], "x  "],
  ["ltrim", ["text:abcx", "text:ba"], "cx"],
  ["rtrim", ["text:  x  "], "  x"],
  ["rtrim", ["text:xabab", "text:ab"], "x"],
  ["btrim", ["text:x", "text:"], "x"],
  ["replace", ["text:abcabc", "text:b", "text:XY"], "aXYcaXYc"],
  ["replace", ["text:abc", "text:", "text:z"], "abc"],
  ["replace", ["text:aaa", "text:aa", "text:b"], "ba"],
  ["round", ["numeric:2.5"], "3"],
  ["round", ["numeric:-2.5"], "-3"],
  ["round", ["float8:2.5"], "2"],
  ["round", ["float8:3.5"], "4"],
  ["round", ["float8:-0.5"], "-0"],
  ["round", ["numeric:1.005", "int4:2"], "1.01"],
  ["round", ["numeric:2.675", "int4:2"], "2.68"],
  ["round", ["numeric:1234.5", "int4:-2"], "1200"],
  ["round", ["numeric:-1.25", "int4:1"], "-1.3"],
  ["round", ["int4:7"], "7"],
  ["round", ["numeric:0.5"], "1"],
  ["round", ["numeric:1.4999", "int4:0"], "1"],
  ["trunc", ["numeric:-1.7"], "-1"],
  ["trunc", ["numeric:1.789", "int4:2"], "1.78"],
  ["trunc", ["float8:-2.5"], "-2"],
  ["trunc", ["numeric:1789", "int4:-2"], "1700"],
  ["floor", ["numeric:-1.5"], "-2"],
  ["floor", ["float8:1.5"], "1"],
  ["ceil", ["numeric:-1.5"], "-1"],
  ["ceiling", ["float8:1.2"], "2"],
  ["floor", ["int4:3"], "3"],
  ["sign", ["numeric:-3.2"], "-1"],
  ["sign", ["float8:0"], "0"],
  ["sign", ["int4:5"], "1"],
  ["sqrt", ["float8:2"], "1.4142135623730951"],
  ["sqrt", ["numeric:16"], "4.000000000000000"],
  ["sqrt", ["float8:-1"], "ERROR 2201F: cannot take square root of a negative number"],
  ["power", ["float8:2", "float8:10"], "1024"],
  ["pow", ["int4:2", "int4:3"], "8"],
  ["power", ["numeric:2", "numeric:10"], "1024.0000000000000000"],
  ["power", ["float8:0", "float8:-1"], "ERROR 2201F: zero raised to a negative power is undefined"],
  ["power", ["float8:-1", "float8:0.5"], "ERROR 2201F: a negative number raised to a non-integer power yields a complex result"],
  ["power", ["float8:10", "float8:400"], "ERROR 22003: value out of range: overflow"],
  ["exp", ["float8:0"], "1"],
  ["exp", ["float8:1000"], "ERROR 22003: value out of range: overflow"],
  ["ln", ["float8:1"], "0"],
  ["ln", ["float8:0"], "ERROR 2201E: cannot take logarithm of zero"],
  ["ln", ["float8:-1"], "ERROR 2201E: cannot take logarithm of a negative number"],
  ["log", ["float8:1000"], "3"],
  ["log", ["numeric:100"], "2.0000000000000000"],
  ["log", ["numeric:2", "numeric:8"], "3.0000000000000000"],
  ["log", ["float8:0"], "ERROR 2201E: cannot take logarithm of zero"],
  ["mod", ["int4:-7", "int4:2"], "-1"],
  ["mod", ["int4:7", "int4:0"], "ERROR 22012: division by zero"],
  ["mod", ["numeric:7.5", "numeric:2"], "1.5"],
  ["mod", ["int8:9223372036854775807", "int8:10"], "7"],
  ["cbrt", ["float8:-8"], "-2"],
  ["concat", ["text:a", "int4:1", "bool:true", "text", "numeric:2.5"], "a1t2.5"],
  ["concat_ws", ["text:,", "int4:1", "text", "int4:2"], "1,2"],
  ["concat_ws", ["text", "int4:1"], "<NULL>"],
  ["concat", ["text"], ""],
  ["position", ["text:hello", "text:l"], "3"],
  ["strpos", ["text:hello", "text:z"], "0"],
  ["strpos", ["text:héllo", "text:l"], "3"],
  ["strpos", ["text:abc", "text:"], "1"],
  ["left", ["text:hello", "int4:2"], "he"],
  ["left", ["text:hello", "int4:-2"], "hel"],
  ["right", ["text:hello", "int4:2"], "lo"],
  ["right", ["text:hello", "int4:-2"], "llo"],
  ["left", ["text:hi", "int4:10"], "hi"],
  ["repeat", ["text:ab", "int4:3"], "ababab"],
  ["repeat", ["text:ab", "int4:-1"], ""],
  ["reverse", ["text:abc😀"], "😀cba"],
  ["split_part", ["text:a,b,c", "text:,", "int4:2"], "b"],
  ["split_part", ["text:a,b,c", "text:,", "int4:4"], ""],
  ["split_part", ["text:a,b,c", "text:,", "int4:-1"], "c"],
  ["split_part", ["text:a,b", "text:,", "int4:0"], "ERROR 22023: field position must not be zero"],
  ["split_part", ["text:abc", "text:", "int4:1"], "abc"],
  ["starts_with", ["text:hello", "text:he"], "t"],
  ["starts_with", ["text:hello", "text:lo"], "f"],
  ["lpad", ["text:5", "int4:3", "text:0"], "005"],
  ["lpad", ["text:hello", "int4:3"], "hel"],
  ["lpad", ["text:x", "int4:5", "text:ab"], "ababx"],
  ["rpad", ["text:x", "int4:3"], "x  "],
  ["rpad", ["text:x", "int4:4", "text:yz"], "xyzy"],
  ["lpad", ["text:x", "int4:-1"], ""],
  ["lpad", ["text:x", "int4:3", "text:"], "x"],
  ["md5", ["text:abc"], "900150983cd24fb0d6963f7d28e17f72"],
  ["md5", ["text:"], "d41d8cd98f00b204e9800998ecf8427e"],
  ["ascii", ["text:A"], "65"],
  ["chr", ["int4:65"], "A"],
  ["extract", ["text:year", "timestamp:2024-03-05 14:30:15.25"], "2024"],
  ["extract", ["text:month", "timestamp:2024-03-05 14:30:15.25"], "3"],
  ["extract", ["text:day", "timestamp:2024-03-05 14:30:15.25"], "5"],
  ["extract", ["text:hour", "timestamp:2024-03-05 14:30:15.25"], "14"],
  ["extract", ["text:minute", "timestamp:2024-03-05 14:30:15.25"], "30"],
  ["extract", ["text:second", "timestamp:2024-03-05 14:30:15.25"], "15.250000"],
  ["extract", ["text:epoch", "timestamp:2024-03-05 14:30:15.25"], "1709649015.250000"],
  ["extract", ["text:epoch", "timestamptz:2024-03-05 14:30:15+02"], "1709641815.000000"],
  ["extract", ["text:dow", "timestamp:2024-03-03"], "0"],
  ["extract", ["text:isodow", "timestamp:2024-03-03"], "7"],
  ["extract", ["text:doy", "timestamp:2024-12-31"], "366"],
  ["extract", ["text:quarter", "timestamp:2024-08-01"], "3"],
  ["extract", ["text:week", "timestamp:2024-12-30"], "1"],
  ["extract", ["text:week", "timestamp:2021-01-01"], "53"],
  ["extract", ["text:isoyear", "timestamp:2021-01-01"], "2020"],
  ["extract", ["text:microseconds", "timestamp:2024-03-05 14:30:15.25"], "15250000"],
  ["extract", ["text:milliseconds", "timestamp:2024-03-05 14:30:15.25"], "15250.000"],
  ["extract", ["text:century", "timestamp:2000-06-01"], "20"],
  ["extract", ["text:century", "timestamp:2001-01-01"], "21"],
  ["extract", ["text:decade", "timestamp:2024-01-01"], "202"],
  ["extract", ["text:millennium", "timestamp:2001-01-01"], "3"],
  ["extract", ["text:YEAR", "date:2024-03-05"], "2024"],
  ["extract", ["text:hour", "date:2024-03-05"], "ERROR 0A000: unit \"hour\" not supported for type date"],
  ["extract", ["text:epoch", "date:2024-03-05"], "1709596800"],
  ["extract", ["text:foo", "timestamptz:2024-03-05 00:00+00"], "ERROR 22023: unit \"foo\" not recognized for type timestamp with time zone"],
  ["extract", ["text:day", "interval:1 mon 2 days 03:04:05.5"], "2"],
  ["extract", ["text:epoch", "interval:1 mon 2 days 03:04:05.5"], "2775845.500000"],
  ["extract", ["text:hour", "interval:27 hours"], "27"],
  ["extract", ["text:epoch", "interval:1 year"], "31557600.000000"],
  ["extract", ["text:second", "interval:1 mon 2 days 03:04:05.5"], "5.500000"],
  ["date_part", ["text:year", "timestamp:2024-03-05"], "2024"],
  ["date_part", ["text:second", "timestamp:2024-03-05 00:00:01.5"], "1.5"],
  ["date_part", ["text:dow", "date:2024-03-05"], "2"],
  ["date_part", ["text:foo", "timestamp:2024-03-05"], "ERROR 22023: unit \"foo\" not recognized for type timestamp without time zone"],
  ["date_part", ["text:epoch", "interval:1 day"], "86400"],
  ["date_trunc", ["text:month", "timestamp:2024-05-17 10:11:12"], "2024-05-01 00:00:00"],
  ["date_trunc", ["text:year", "timestamptz:2024-05-17 10:11:12+00"], "2024-01-01 00:00:00+00"],
  ["date_trunc", ["text:week", "timestamp:2024-05-19 10:00"], "2024-05-13 00:00:00"],
  ["date_trunc", ["text:quarter", "timestamp:2024-05-17"], "2024-04-01 00:00:00"],
  ["date_trunc", ["text:hour", "timestamp:2024-05-17 10:11:12.5"], "2024-05-17 10:00:00"],
  ["date_trunc", ["text:minute", "timestamp:2024-05-17 10:11:12.5"], "2024-05-17 10:11:00"],
  ["date_trunc", ["text:second", "timestamp:2024-05-17 10:11:12.5"], "2024-05-17 10:11:12"],
  ["date_trunc", ["text:milliseconds", "timestamp:2024-05-17 10:11:12.123456"], "2024-05-17 10:11:12.123"],
  ["date_trunc", ["text:day", "date:2024-05-17"], "2024-05-17 00:00:00+00"],
  ["date_trunc", ["text:decade", "timestamp:2024-05-17"], "2020-01-01 00:00:00"],
  ["date_trunc", ["text:century", "timestamp:2024-05-17"], "2001-01-01 00:00:00"],
  ["date_trunc", ["text:millennium", "timestamp:2024-05-17"], "2001-01-01 00:00:00"],
  ["date_trunc", ["text:foo", "timestamp:2024-05-17"], "ERROR 22023: unit \"foo\" not recognized for type timestamp without time zone"],
  ["date_trunc", ["text:hour", "interval:2 days 03:45:00"], "2 days 03:00:00"],
  ["date_trunc", ["text:day", "timestamp:1969-12-31 23:00"], "1969-12-31 00:00:00"],
  ["make_date", ["int4:2024", "int4:2", "int4:29"], "2024-02-29"],
  ["make_date", ["int4:2023", "int4:2", "int4:29"], "ERROR 22008: date field value out of range: 2023-02-29"],
  ["make_date", ["int4:2024", "int4:13", "int4:1"], "ERROR 22008: date field value out of range: 2024-13-01"],
  ["age", ["timestamp:2024-03-01", "timestamp:2023-01-31"], "1 year 1 mon 1 day"],
  ["age", ["timestamp:2024-01-01", "timestamp:2024-03-15 12:00"], "-2 mons -14 days -12:00:00"],
  ["age", ["timestamptz:2024-05-10 00:00+00", "timestamptz:2024-04-20 06:00+00"], "19 days 18:00:00"],
  ["jsonb_typeof", ["jsonb:{}"], "object"],
  ["jsonb_typeof", ["jsonb:[1]"], "array"],
  ["jsonb_typeof", ["jsonb:\"s\""], "string"],
  ["jsonb_typeof", ["jsonb:1.5"], "number"],
  ["jsonb_typeof", ["jsonb:true"], "boolean"],
  ["jsonb_typeof", ["jsonb:null"], "null"],
  ["jsonb_array_length", ["jsonb:[1,2,[3]]"], "3"],
  ["jsonb_array_length", ["jsonb:{}"], "ERROR 22023: cannot get array length of a non-array"],
  ["jsonb_array_length", ["jsonb:1"], "ERROR 22023: cannot get array length of a scalar"],
  ["to_jsonb", ["text:a\"b"], "\"a\\\"b\""],
  ["to_jsonb", ["int4:5"], "5"],
  ["to_jsonb", ["bool:true"], "true"],
  ["to_jsonb", ["timestamp:2024-01-02 03:04:05.5"], "\"2024-01-02T03:04:05.5\""],
  ["to_jsonb", ["timestamptz:2024-01-02 03:04:05+00"], "\"2024-01-02T03:04:05+00:00\""],
  ["to_jsonb", ["date:2024-01-02"], "\"2024-01-02\""],
  ["to_jsonb", ["numeric:1.5"], "1.5"],
  ["jsonb_build_object", ["text:a", "int4:1", "text:b", "text:x"], "{\"a\": 1, \"b\": \"x\"}"],
  ["jsonb_build_array", ["int4:1", "text", "text:s"], "[1, null, \"s\"]"],
  ["lower", ["int4:1"], "ERROR 42883: function lower(integer) does not exist"],
  ["foo", ["int4:1"], "ERROR 42883: function foo(integer) does not exist"],
  ["substr", ["int4:1", "int4:1"], "ERROR 42883: function substr(integer, integer) does not exist"],
  ["now", ["int4:1"], "ERROR 42883: function now(integer) does not exist"],
];

const CAST_CASES: readonly (readonly [string, string, string])[] = [
  ["text:  12 ", "int4", "12"],
  ["text:1.5", "int4", "ERROR 22P02: invalid input syntax for type integer: \"1.5\""],
  ["text:", "int4", "ERROR 22P02: invalid input syntax for type integer: \"\""],
  ["text:99999999999", "int4", "ERROR 22003: value \"99999999999\" is out of range for type integer"],
  ["text:99999", "int2", "ERROR 22003: value \"99999\" is out of range for type smallint"],
  ["text:abc", "int8", "ERROR 22P02: invalid input syntax for type bigint: \"abc\""],
  ["text:-9223372036854775808", "int8", "-9223372036854775808"],
  ["text:9223372036854775808", "int8", "ERROR 22003: value \"9223372036854775808\" is out of range for type bigint"],
  ["text:+7", "int2", "7"],
  ["float8:2.5", "int4", "2"],
  ["float8:-2.5", "int4", "-2"],
  ["float8:3.5", "int4", "4"],
  ["float8:0.5", "int4", "0"],
  ["float8:1e10", "int4", "ERROR 22003: integer out of range"],
  ["float8:NaN", "int4", "ERROR 22003: integer out of range"],
  ["float8:2.5", "int2", "2"],
  ["float8:1.5", "int8", "2"],
  ["float4:2.5", "int4", "2"],
  ["numeric:2.5", "int4", "3"],
  ["numeric:-2.5", "int4", "-3"],
  ["numeric:-0.5", "int4", "-1"],
  ["numeric:NaN", "int4", "ERROR 0A000: cannot convert NaN to integer"],
  ["numeric:32767.5", "int2", "ERROR 22003: smallint out of range"],
  ["numeric:-9223372036854775808", "int8", "-9223372036854775808"],
  ["int8:2147483648", "int4", "ERROR 22003: integer out of range"],
  ["int4:-32769", "int2", "ERROR 22003: smallint out of range"],
  ["int4:5", "int8", "5"],
  ["int4:1", "bool", "t"],
  ["int4:0", "bool", "f"],
  ["int4:-3", "bool", "t"],
  ["bool:true", "int4", "1"],
  ["int8:2", "bool", "ERROR 42846: cannot cast type bigint to boolean"],
  ["bool:true", "int8", "ERROR 42846: cannot cast type boolean to bigint"],
  ["text:yes", "bool", "t"],
  ["text:off", "bool", "f"],
  ["text:1", "bool", "t"],
  ["text:tr", "bool", "t"],
  ["text: t ", "bool", "t"],
  ["text:x", "bool", "ERROR 22P02: invalid input syntax for type boolean: \"x\""],
  ["text:o", "bool", "ERROR 22P02: invalid input syntax for type boolean: \"o\""],
  ["text:NO", "bool", "f"],
  ["bool:true", "text", "true"],
  ["bool:false", "text", "false"],
  ["text:1.5", "numeric", "1.5"],
  ["text: -1e3 ", "numeric", "-1000"],
  ["text:abc", "numeric", "ERROR 22P02: invalid input syntax for type numeric: \"abc\""],
  ["text:NaN", "numeric", "NaN"],
  ["text:1e400", "float8", "ERROR 22003: \"1e400\" is out of range for type double precision"],
  ["text:abc", "float8", "ERROR 22P02: invalid input syntax for type double precision: \"abc\""],
  ["text:-inf", "float8", "-Infinity"],
  ["text:1e-400", "float8", "ERROR 22003: \"1e-400\" is out of range for type double precision"],
  ["text:.5", "float8", "0.5"],
  ["float8:1e39", "float4", "ERROR 22003: value out of range: overflow"],
  ["float8:0.1", "float4", "0.1"],
  ["int4:16777217", "float4", "1.6777216e+07"],
  ["int8:9007199254740993", "float8", "9.007199254740992e+15"],
  ["float8:0.1", "text", "0.1"],
  ["float8:1e100", "text", "1e+100"],
  ["float8:123456789012345", "text", "123456789012345"],
  ["float8:1234567890123456", "text", "1.234567890123456e+15"],
  ["float8:0.0001", "text", "0.0001"],
  ["float8:0.00001", "text", "1e-05"],
  ["float8:-0", "text", "-0"],
  ["float8:Infinity", "text", "Infinity"],
  ["float8:NaN", "text", "NaN"],
  ["float8:1.5e-7", "text", "1.5e-07"],
  ["float8:100", "text", "100"],
  ["float4:0.1", "text", "0.1"],
  ["float4:1e20", "text", "1e+20"],
  ["float4:100000000", "text", "1e+08"],
  ["float4:123456", "text", "123456"],
  ["float4:1234567", "text", "1.234567e+06"],
  ["float4:3.14159", "text", "3.14159"],
  ["float4:0.1", "float8", "0.10000000149011612"],
  ["numeric:1.5", "text", "1.5"],
  ["numeric:1e20", "text", "100000000000000000000"],
  ["numeric:0.000001", "text", "0.000001"],
  ["numeric:-0", "text", "0"],
  ["text:2024-01-02 03:04:05.123456+02", "timestamptz", "2024-01-02 01:04:05.123456+00"],
  ["text:2024-01-02T03:04:05Z", "timestamptz", "2024-01-02 03:04:05+00"],
  ["text:2024-01-02", "timestamptz", "2024-01-02 00:00:00+00"],
  ["text:2024-01-02 03:04", "timestamp", "2024-01-02 03:04:00"],
  ["text:2024-01-02 03:04:05+05:30", "timestamp", "2024-01-02 03:04:05"],
  ["text:2024-01-02 03:04:05.1234567", "timestamp", "2024-01-02 03:04:05.123457"],
  ["text:2024-1-2 3:4:5", "timestamp", "2024-01-02 03:04:05"],
  ["text:2024-01-02 03:04:05-0330", "timestamptz", "2024-01-02 06:34:05+00"],
  ["text:epoch", "timestamp", "1970-01-01 00:00:00"],
  ["text:infinity", "timestamp", "infinity"],
  ["text:-infinity", "date", "-infinity"],
  ["text:2024-02-30", "date", "ERROR 22008: date/time field value out of range: \"2024-02-30\""],
  ["text:garbage", "timestamp", "ERROR 22007: invalid input syntax for type timestamp: \"garbage\""],
  ["text:garbage", "timestamptz", "ERROR 22007: invalid input syntax for type timestamp with time zone: \"garbage\""],
  ["text:2024-01-02 25:00", "timestamp", "ERROR 22008: date/time field value out of range: \"2024-01-02 25:00\""],
  ["text:2024-01-02 24:00:00", "timestamp", "2024-01-03 00:00:00"],
  ["text:2024-02-29", "date", "2024-02-29"],
  ["text:2024-01-02 10:00", "date", "2024-01-02"],
  ["timestamp:2024-01-02 03:04:05", "date", "2024-01-02"],
  ["timestamp:1969-12-31 23:00", "date", "1969-12-31"],
  ["date:2024-01-02", "timestamptz", "2024-01-02 00:00:00+00"],
  ["date:2024-01-02", "timestamp", "2024-01-02 00:00:00"],
  ["timestamptz:2024-01-02 03:04:05+00", "timestamp", "2024-01-02 03:04:05"],
  ["timestamp:1900-01-01 00:00:00.5", "text", "1900-01-01 00:00:00.5"],
  ["text:1 day", "interval", "1 day"],
  ["text:3 months", "interval", "3 mons"],
  ["text:2 hours 30 minutes", "interval", "02:30:00"],
  ["text:P1D", "interval", "1 day"],
  ["text:1 year 2 mons 3 days 04:05:06.5", "interval", "1 year 2 mons 3 days 04:05:06.5"],
  ["text:-1 day", "interval", "-1 days"],
  ["text:1 day -02:00", "interval", "1 day -02:00:00"],
  ["text:@ 1 day ago", "interval", "-1 days"],
  ["text:1.5 days", "interval", "1 day 12:00:00"],
  ["text:1.5 months", "interval", "1 mon 15 days"],
  ["text:90 seconds", "interval", "00:01:30"],
  ["text:1 week", "interval", "7 days"],
  ["text:-00:00:01", "interval", "-00:00:01"],
  ["text:1 ms", "interval", "00:00:00.001"],
  ["text:PT1H30M", "interval", "01:30:00"],
  ["text:P1Y2M3DT4H5M6S", "interval", "1 year 2 mons 3 days 04:05:06"],
  ["text:xx", "interval", "ERROR 22007: invalid input syntax for type interval: \"xx\""],
  ["text:0", "interval", "00:00:00"],
  ["text:100 hours", "interval", "100:00:00"],
  ["text:-1 mons -2 days -03:00:00", "interval", "-1 mons -2 days -03:00:00"],
  ["text:1 year -1 mon", "interval", "11 mons"],
  ["text:-1 day +02:00", "interval", "-1 days +02:00:00"],
  ["text:1.5 years", "interval", "1 year 6 mons"],
  ["text:2 days ago", "interval", "-2 days"],
  ["text:1 day 1 day", "interval", "ERROR 22007: invalid input syntax for type interval: \"1 day 1 day\""],
  ["text:{\"b\":[1,2],\"a\":1,\"aa\":{\"x\":null},\"c\":\"s\\n\"}", "jsonb", "{\"a\": 1, \"b\": [1, 2], \"c\": \"s\\n\", \"aa\": {\"x\": null}}"],
  ["text:{\"a\":1,\"a\":2}", "jsonb", "{\"a\": 2}"],
  ["text:{bad", "jsonb", "ERROR 22P02: invalid input syntax for type json"],
  ["text:[1, 1e3, -0, 1E-7]", "jsonb", "[1, 1000, 0, 0.0000001]"],
  ["text:{\"é\":1,\"z\":2,\"ab\":3}", "jsonb", "{\"z\": 2, \"ab\": 3, \"é\": 1}"],
  ["text:\"\\u00e9\\t\"", "jsonb", "\"é\\t\""],
  ["jsonb:{\"a\":1}", "text", "{\"a\": 1}"],
  ["jsonb:1.5", "int4", "2"],
  ["jsonb:2.5", "int4", "3"],
  ["jsonb:true", "bool", "t"],
  ["jsonb:1", "float8", "1"],
  ["jsonb:\"x\"", "int4", "ERROR 22023: cannot cast jsonb string to type integer"],
  ["jsonb:null", "int4", "ERROR 22023: cannot cast jsonb null to type integer"],
  ["jsonb:[1]", "numeric", "ERROR 22023: cannot cast jsonb array to type numeric"],
  ["jsonb:1", "bool", "ERROR 22023: cannot cast jsonb numeric to type boolean"],
  ["jsonb:{}", "uuid", "ERROR 42846: cannot cast type jsonb to uuid"],
  ["text:A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
  ["text:{a0eebc99-9c0b4ef8-bb6d6bb9bd380a11}", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
  ["text:a0eebc999c0b4ef8bb6d6bb9bd380a11", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
  ["text:abc", "uuid", "ERROR 22P02: invalid input syntax for type uuid: \"abc\""],
  ["text:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "uuid", "ERROR 22P02: invalid input syntax for type uuid: \"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1\""],
  ["uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "text", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
  ["uuid:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "int4", "ERROR 42846: cannot cast type uuid to integer"],
  ["text:\\x0102", "bytea", "\\x0102"],
  ["text:abc", "bytea", "\\x616263"],
  ["text:\\x0", "bytea", "ERROR 22023: invalid hexadecimal data: odd number of digits"],
  ["text:\\xzz", "bytea", "ERROR 22023: invalid hexadecimal digit: \"z\""],
  ["text:a\\\\b", "bytea", "\\x615c62"],
  ["text:\\001x", "bytea", "\\x0178"],
  ["bytea:\\xdeadbeef", "text", "\\xdeadbeef"],
  ["interval:1 day", "text", "1 day"],
  ["interval:1 day", "int4", "ERROR 42846: cannot cast type interval to integer"],
  ["date:2024-01-01", "int4", "ERROR 42846: cannot cast type date to integer"],
  ["int4:1", "date", "ERROR 42846: cannot cast type integer to date"],
  ["text:12", "text", "12"],
];

describe('operators (PostgreSQL 15 results)', () => {
  it.each(OPERATOR_CASES)('%s %s %s → %s', (left, op, right, expected) => {
    expect(unscaled(evalOperator(left, op, right))).toBe(unscaled(expected));
  });

  it('reports where the operator was', () => {
    try {
      resolveOperator('+', 'int4', 'text', 17);
      expect.unreachable();
    } catch (error) {
      expect((error as MantisError).details).toEqual({ sqlstate: '42883', byteLocation: 17 });
    }
  });

  it('arrives with PostgreSQL result types', () => {
    expect(resolveOperator('+', 'int2', 'int2').returns).toBe('int2');
    expect(resolveOperator('+', 'int2', 'int4').returns).toBe('int4');
    expect(resolveOperator('+', 'int4', 'int8').returns).toBe('int8');
    expect(resolveOperator('+', 'int4', 'numeric').returns).toBe('numeric');
    expect(resolveOperator('+', 'float4', 'float4').returns).toBe('float4');
    expect(resolveOperator('+', 'float4', 'int4').returns).toBe('float8');
    expect(resolveOperator('+', 'numeric', 'float4').returns).toBe('float8');
    expect(resolveOperator('-', 'date', 'date').returns).toBe('int4');
    expect(resolveOperator('+', 'date', 'interval').returns).toBe('timestamp');
    expect(resolveOperator('=', 'unknown', 'unknown')).toMatchObject({ left: 'text', right: 'text' });
    expect(resolveOperator('=', 'int4', 'float8')).toMatchObject({ left: 'float8', right: 'float8' });
    expect(resolveOperator('||', 'unknown', 'int4')).toMatchObject({ left: 'text', right: 'text', returns: 'text' });
  });

  it('int8 arithmetic is exact past 2^53', () => {
    const plus = resolveOperator('+', 'int8', 'int8');
    expect(plus.call(9007199254740991, 2)).toBe(9007199254740993n);
    expect(plus.call(9007199254740993n, -2)).toBe(9007199254740991); // back to a number when safe
    expect(resolveOperator('*', 'int8', 'int8').call(3037000499, 3037000499)).toBe(9223372030926249001n);
  });
});

describe('functions (PostgreSQL 15 results)', () => {
  it.each(FUNCTION_CASES)('%s(%j) → %s', (name, args, expected) => {
    expect(unscaled(evalFunction(name, args))).toBe(unscaled(expected));
  });

  it('the statement time functions read the context', () => {
    expect(evalFunction('now', [])).toBe('2024-05-17 10:11:12.345678+00');
    expect(evalFunction('current_timestamp', [])).toBe('2024-05-17 10:11:12.345678+00');
    expect(evalFunction('statement_timestamp', [])).toBe('2024-05-17 10:11:12.345678+00');
    expect(evalFunction('current_date', [])).toBe('2024-05-17');
    expect(evalFunction('localtimestamp', [])).toBe('2024-05-17 10:11:12.345678');
    expect(resolveFunction('now', []).volatile).toBe(false);
    const clock = resolveFunction('clock_timestamp', []);
    expect(clock.volatile).toBe(true);
    expect(Math.abs((clock.call([], CTX) as number) - Date.now() * 1000)).toBeLessThan(5_000_000);
  });

  it('random() and gen_random_uuid() are volatile', () => {
    const r = resolveFunction('random', []);
    expect(r.volatile).toBe(true);
    const x = r.call([], CTX) as number;
    expect(x >= 0 && x < 1).toBe(true);
    const u = resolveFunction('gen_random_uuid', []);
    expect(u.volatile && u.returns === 'uuid').toBe(true);
    expect(u.call([], CTX)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('overloads resolve as PostgreSQL resolves them', () => {
    expect(resolveFunction('round', ['int4']).returns).toBe('float8');
    expect(resolveFunction('round', ['numeric']).returns).toBe('numeric');
    expect(resolveFunction('abs', ['int4']).returns).toBe('int4');
    expect(resolveFunction('sqrt', ['int4']).returns).toBe('float8');
    expect(resolveFunction('mod', ['int4', 'int4']).returns).toBe('int4');
    expect(resolveFunction('length', ['unknown']).args).toEqual(['text']);
    expect(resolveFunction('date_trunc', ['unknown', 'date']).returns).toBe('timestamptz');
    expect(resolveFunction('extract', ['unknown', 'date']).returns).toBe('numeric');
    expect(resolveFunction('date_part', ['unknown', 'timestamp']).returns).toBe('float8');
    expect(resolveFunction('concat', ['unknown', 'int4', 'bool'])).toMatchObject({ strict: false, args: ['text', 'int4', 'bool'] });
    expect(errorOf(() => resolveFunction('lower', []))).toBe('ERROR 42883: function lower() does not exist');
  });

  it('concat skips nulls, concat_ws too (a null separator gives null)', () => {
    const concat = resolveFunction('concat', ['text', 'text', 'int4']);
    expect(concat.call(['a', null, 1], CTX)).toBe('a1');
    const ws = resolveFunction('concat_ws', ['text', 'text', 'text']);
    expect(ws.call(['-', 'a', null], CTX)).toBe('a');
    expect(ws.call([null, 'a', 'b'], CTX)).toBe(null);
  });
});

describe('casts (PostgreSQL 15 results)', () => {
  it.each(CAST_CASES)('%s::%s → %s', (value, to, expected) => {
    expect(unscaled(evalCast(value, to as SqlType))).toBe(unscaled(expected));
  });

  it('null casts to null, from anything to anything', () => {
    expect(castValue(null, 'int4', 'uuid')).toBe(null);
    expect(castValue(null, 'unknown', 'int8')).toBe(null);
  });

  it('ints are numbers when safe, bigints past 2^53', () => {
    expect(castValue('9007199254740993', 'text', 'int8')).toBe(9007199254740993n);
    expect(castValue('9007199254740991', 'text', 'int8')).toBe(9007199254740991);
    expect(castValue(9007199254740993n, 'int8', 'numeric')).toBe(9007199254740992);
    expect(castValue(-0.4, 'float8', 'int4')).toBe(0);
    expect(Object.is(castValue(-0.4, 'float8', 'int4'), -0)).toBe(false);
  });
});

describe('implicit casts and common types', () => {
  it('follows pg_cast (context i)', () => {
    expect(implicitCastable('int2', 'int8')).toBe(true);
    expect(implicitCastable('int8', 'float4')).toBe(true);
    expect(implicitCastable('numeric', 'float8')).toBe(true);
    expect(implicitCastable('float8', 'numeric')).toBe(false);
    expect(implicitCastable('int8', 'int4')).toBe(false);
    expect(implicitCastable('date', 'timestamptz')).toBe(true);
    expect(implicitCastable('timestamp', 'timestamptz')).toBe(true);
    expect(implicitCastable('timestamptz', 'timestamp')).toBe(false); // assignment only
    expect(implicitCastable('uuid', 'text')).toBe(false);
    expect(implicitCastable('int4', 'text')).toBe(false);
    expect(implicitCastable('unknown', 'jsonb')).toBe(true);
    expect(implicitCastable('jsonb', 'jsonb')).toBe(true);
  });

  it('select_common_type', () => {
    expect(commonType(['unknown', 'unknown'], 'CASE')).toBe('text');
    expect(commonType(['int4', 'unknown', 'int8'], 'COALESCE')).toBe('int8');
    expect(commonType(['int4', 'numeric', 'float4'], 'COALESCE')).toBe('float4'); // PG: real
    expect(commonType(['int2', 'float8', 'numeric'], 'UNION')).toBe('float8');
    expect(commonType(['timestamp', 'date'], 'COALESCE')).toBe('timestamp');
    expect(commonType(['date', 'timestamptz'], 'COALESCE')).toBe('timestamptz');
    expect(commonType(['text', 'unknown'], 'VALUES')).toBe('text');
    // PostgreSQL: COALESCE types integer and text cannot be matched (and so for each context).
    expect(errorOf(() => commonType(['int4', 'text'], 'COALESCE'))).toBe('ERROR 42804: COALESCE types integer and text cannot be matched');
    expect(errorOf(() => commonType(['int4', 'text'], 'UNION'))).toBe('ERROR 42804: UNION types integer and text cannot be matched');
    expect(errorOf(() => commonType(['text', 'int4'], 'CASE'))).toBe('ERROR 42804: CASE types text and integer cannot be matched');
    expect(errorOf(() => commonType(['timestamptz', 'interval'], 'COALESCE'))).toBe('ERROR 42804: COALESCE types timestamp with time zone and interval cannot be matched');
    expect(errorOf(() => commonType(['uuid', 'jsonb'], 'COALESCE'))).toBe('ERROR 42846: COALESCE could not convert type jsonb to uuid');
  });
});

describe('JSON in and out (the HTTP route)', () => {
  it('valueToJson', () => {
    expect(valueToJson(5, 'int4')).toBe(5);
    expect(valueToJson(9223372036854775807n, 'int8')).toBe('9223372036854775807');
    expect(valueToJson(1.5, 'float8')).toBe(1.5);
    expect(valueToJson(NaN, 'float8')).toBe('NaN');
    expect(valueToJson(Infinity, 'float4')).toBe('Infinity');
    expect(valueToJson(-Infinity, 'numeric')).toBe('-Infinity');
    expect(valueToJson('x', 'text')).toBe('x');
    expect(valueToJson(true, 'bool')).toBe(true);
    expect(valueToJson(null, 'int4')).toBe(null);
    const ts = castValue('2024-01-02 03:04:05.123456', 'text', 'timestamptz');
    expect(valueToJson(ts, 'timestamptz')).toBe('2024-01-02T03:04:05.123456Z');
    expect(valueToJson(castValue('2024-01-02 03:04:05.5', 'text', 'timestamp'), 'timestamp')).toBe('2024-01-02T03:04:05.500000Z');
    expect(valueToJson(castValue('2024-01-02 03:04:05', 'text', 'timestamp'), 'timestamp')).toBe('2024-01-02T03:04:05Z');
    expect(valueToJson(castValue('2024-01-02', 'text', 'date'), 'date')).toBe('2024-01-02');
    expect(valueToJson(new Interval(1, 2, 3_600_000_000), 'interval')).toBe('1 mon 2 days 01:00:00');
    expect(valueToJson(new Uint8Array([1, 2, 255]), 'bytea')).toBe('AQL/');
    expect(valueToJson(new Jsonb({ a: [1, null] }), 'jsonb')).toEqual({ a: [1, null] });
    expect(valueToJson('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  });

  it('jsonToValue', () => {
    expect(jsonToValue(5, 'int4')).toBe(5);
    expect(jsonToValue('9223372036854775807', 'int8')).toBe(9223372036854775807n);
    expect(jsonToValue(' 12 ', 'int4')).toBe(12);
    expect(jsonToValue(1.5, 'float8')).toBe(1.5);
    expect(jsonToValue(true, 'bool')).toBe(true);
    expect(jsonToValue('yes', 'bool')).toBe(true);
    expect(jsonToValue(null, 'int4')).toBe(null);
    expect(jsonToValue('abc', 'unknown')).toBe('abc');
    expect(jsonToValue(7, 'unknown')).toBe(7);
    expect(jsonToValue({ a: 1 }, 'jsonb')).toEqual(new Jsonb({ a: 1 }));
    expect(jsonToValue('2024-01-02T03:04:05Z', 'timestamptz')).toBe(Date.UTC(2024, 0, 2, 3, 4, 5) * 1000);
    expect(jsonToValue('AQL/', 'bytea')).toEqual(new Uint8Array([1, 2, 255]));
    expect(jsonToValue('\\x0102', 'bytea')).toEqual(new Uint8Array([1, 2]));
    expect(errorOf(() => jsonToValue(3000000000, 'int4'))).toBe('ERROR 22003: integer out of range');
    expect(errorOf(() => jsonToValue('3000000000', 'int4'))).toBe('ERROR 22003: value "3000000000" is out of range for type integer');
    expect(errorOf(() => jsonToValue(1.5, 'int4'))).toBe('ERROR 22P02: invalid input syntax for type integer: "1.5"');
    expect(errorOf(() => jsonToValue(true, 'int4'))).toBe('ERROR 22P02: invalid input syntax for type integer: "true"');
    expect(errorOf(() => jsonToValue('x', 'uuid'))).toBe('ERROR 22P02: invalid input syntax for type uuid: "x"');
  });
});

describe('ordering and hashing', () => {
  it('compareValues', () => {
    expect(compareValues(1, 2n ** 60n, 'int8')).toBeLessThan(0);
    expect(compareValues(2n ** 60n, 2n ** 60n, 'int8')).toBe(0);
    expect(compareValues(1.5, 1n, 'numeric')).toBeGreaterThan(0);
    expect(compareValues(NaN, Infinity, 'float8')).toBeGreaterThan(0);
    expect(compareValues(NaN, NaN, 'float8')).toBe(0);
    expect(compareValues('B', 'a', 'text')).toBeLessThan(0); // COLLATE "C"
    expect(compareValues('\uffff', '😀', 'text')).toBeLessThan(0); // code points, not UTF-16 units
    expect(compareValues(new Uint8Array([1]), new Uint8Array([1, 0]), 'bytea')).toBeLessThan(0);
    expect(compareValues(false, true, 'bool')).toBeLessThan(0);
    expect(compareValues(new Interval(1, 0, 0), new Interval(0, 30, 0), 'interval')).toBe(0);
    expect(compareValues(new Interval(0, 1, 0), new Interval(0, 0, 86_400_000_001), 'interval')).toBeLessThan(0);
    expect(compareValues(new Jsonb({}), new Jsonb([1, 2]), 'jsonb')).toBeGreaterThan(0);
    expect(compareValues(new Jsonb('a'), new Jsonb(1), 'jsonb')).toBeLessThan(0);
  });

  it('hashKeyOf: equal values, equal keys; NULL apart', () => {
    expect(hashKeyOf(1, 'int8')).toBe(hashKeyOf(1n, 'int8'));
    expect(hashKeyOf(2n ** 60n, 'int8')).toBe(hashKeyOf(2n ** 60n, 'int8'));
    expect(hashKeyOf(2n ** 60n, 'int8')).not.toBe(hashKeyOf(2 ** 60, 'int8'));
    expect(hashKeyOf(-0, 'float8')).toBe(hashKeyOf(0, 'float8'));
    expect(hashKeyOf(new Interval(1, 0, 0), 'interval')).toBe(hashKeyOf(new Interval(0, 30, 0), 'interval'));
    expect(hashKeyOf(new Jsonb({ a: 1, b: 2 }), 'jsonb')).toBe(hashKeyOf(new Jsonb({ b: 2, a: 1 }), 'jsonb'));
    expect(hashKeyOf(new Uint8Array([1, 2]), 'bytea')).toBe(hashKeyOf(new Uint8Array([1, 2]), 'bytea'));
    expect(hashKeyOf(null, 'text')).toBe(NULL_HASH_KEY);
    for (const [v, t] of [['', 'text'], [0, 'int4'], [false, 'bool'], ['NULL', 'text']] as const) expect(hashKeyOf(v, t)).not.toBe(NULL_HASH_KEY);
    const nan = new Map([[hashKeyOf(NaN, 'float8'), 1]]);
    expect(nan.get(hashKeyOf(NaN, 'float8'))).toBe(1);
  });
});
