// SQL errors: a MantisError whose details carry PostgreSQL's SQLSTATE and,
// when known, the 1-based character position in the query (as PostgreSQL's
// `position`). Thrown anywhere in the SQL layer; the route answers it as
// {"success":false,"error":{"code","message","sqlstate","position"?}}.
//
// Positions: the parser gives UTF-8 byte offsets (AST `location`); errors carry
// that offset in `byteLocation` until the executor, which knows the query
// text, turns it into PostgreSQL's character position (`withPosition`).

import { MantisError, type ErrorCode } from '../../shared/errors.js';

/** The SQLSTATE → our error code map (the codes a client switches on). */
const CODE_OF: Record<string, ErrorCode> = {
  '42601': 'SQL_SYNTAX_ERROR',
  '42P01': 'SQL_UNDEFINED_TABLE',
  '42703': 'SQL_UNDEFINED_COLUMN',
  '42702': 'SQL_AMBIGUOUS_COLUMN',
  '42883': 'SQL_UNDEFINED_FUNCTION',
  '42804': 'SQL_TYPE_MISMATCH',
  '42846': 'SQL_TYPE_MISMATCH',
  '42725': 'SQL_UNDEFINED_FUNCTION',
  '22012': 'SQL_DIVISION_BY_ZERO',
  '22003': 'SQL_OUT_OF_RANGE',
  '22008': 'SQL_OUT_OF_RANGE',
  '22P02': 'SQL_INVALID_TEXT',
  '22007': 'SQL_INVALID_TEXT',
  '22001': 'SQL_OUT_OF_RANGE',
  '22023': 'SQL_INVALID_PARAMETER',
  '2201W': 'SQL_INVALID_PARAMETER',
  '2201X': 'SQL_INVALID_PARAMETER',
  '22011': 'SQL_INVALID_PARAMETER',
  '42803': 'SQL_GROUPING_ERROR',
  '21000': 'SQL_CARDINALITY',
  '0A000': 'SQL_NOT_SUPPORTED',
  '53200': 'SQL_MEMORY_LIMIT',
  '54000': 'SQL_MEMORY_LIMIT',
  '23505': 'DUPLICATE_KEY',
  '23502': 'NOT_NULL_VIOLATION',
  '42P07': 'SQL_DUPLICATE_OBJECT',
  '42701': 'SQL_DUPLICATE_OBJECT',
  '42710': 'SQL_DUPLICATE_OBJECT',
  '40001': 'TXN_CONFLICT',
  '57014': 'SQL_CANCELED',
  '42P18': 'SQL_TYPE_MISMATCH',
  '42P10': 'SQL_INVALID_PARAMETER',
  '42P02': 'SQL_INVALID_PARAMETER',
  '42611': 'SQL_INVALID_PARAMETER',
  '428C9': 'SQL_INVALID_PARAMETER',
  '42P19': 'SQL_INVALID_PARAMETER',
  '42P20': 'SQL_GROUPING_ERROR',
  '42809': 'SQL_TYPE_MISMATCH',
  '25P01': 'SQL_ERROR',
  '25P02': 'TXN_ABORTED',
  '42704': 'INDEX_NOT_FOUND',
  '42501': 'FORBIDDEN',
  '42P17': 'SQL_ERROR',
  '28000': 'UNAUTHORIZED',
};

/**
 * A SQL error with PostgreSQL's SQLSTATE (and message wording). `location` is the AST's UTF-8
 * byte offset of the offending token, when known.
 */
export function sqlError(sqlstate: string, message: string, location?: number, code?: ErrorCode): MantisError {
  const details: Record<string, string | number> = { sqlstate };
  if (location !== undefined && location >= 0) details.byteLocation = location;
  return new MantisError(code ?? CODE_OF[sqlstate] ?? 'SQL_ERROR', message, details);
}

/** The SQLSTATE of an error (a SQL error's, or the one a service error maps to). */
export function sqlstateOf(e: MantisError): string | undefined {
  const s = e.details?.sqlstate;
  return typeof s === 'string' ? s : undefined;
}

/** Replaces a byte location by PostgreSQL's 1-based character position in `query`. */
export function withPosition(e: MantisError, query: string): MantisError {
  const loc = e.details?.byteLocation;
  if (typeof loc !== 'number' || e.details === undefined) return e;
  const bytes = Buffer.from(query, 'utf8');
  const position = bytes.subarray(0, Math.min(loc, bytes.length)).toString('utf8').length + 1;
  const { byteLocation: _dropped, ...rest } = e.details;
  return new MantisError(e.code, e.message, { ...rest, position });
}
