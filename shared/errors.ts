// Expected errors are values with a code (STYLE habit 4). The code → HTTP
// status map lives here so the router, shards and clients agree on it.

export const ErrorCode = Object.freeze({
  NOT_FOUND: 'NOT_FOUND',
  KEY_NOT_FOUND: 'KEY_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  INVALID_KEY: 'INVALID_KEY',
  KEY_TOO_LARGE: 'KEY_TOO_LARGE',
  VALUE_TOO_LARGE: 'VALUE_TOO_LARGE',
  BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  INVALID_TTL: 'INVALID_TTL',
  INVALID_CONTENT_TYPE: 'INVALID_CONTENT_TYPE',
  INVALID_PARAMETER: 'INVALID_PARAMETER',
  INVALID_JSON: 'INVALID_JSON',
  INVALID_BATCH: 'INVALID_BATCH',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  SHARD_UNAVAILABLE: 'SHARD_UNAVAILABLE',
  SHARD_BUSY: 'SHARD_BUSY',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  STORAGE_IO: 'STORAGE_IO',
  STORAGE_FULL: 'STORAGE_FULL',
  DATA_CORRUPT: 'DATA_CORRUPT',
  DEADLINE_EXCEEDED: 'DEADLINE_EXCEEDED',
  CACHE_DISABLED: 'CACHE_DISABLED',
  DEPENDENCY_NOT_FOUND: 'DEPENDENCY_NOT_FOUND',
  DEPENDENCY_LIMIT: 'DEPENDENCY_LIMIT',
  TAG_LIMIT: 'TAG_LIMIT',
  TXN_ABORTED: 'TXN_ABORTED',
  TXN_CONFLICT: 'TXN_CONFLICT',
  TXN_NOT_FOUND: 'TXN_NOT_FOUND',
  TXN_EXPIRED: 'TXN_EXPIRED',
  TXN_SNAPSHOT_TOO_OLD: 'TXN_SNAPSHOT_TOO_OLD',
  TXN_LIMIT: 'TXN_LIMIT',
  TXN_OUTCOME_UNKNOWN: 'TXN_OUTCOME_UNKNOWN',
  BAD_QUERY: 'BAD_QUERY',
  DUPLICATE_KEY: 'DUPLICATE_KEY',
  DOC_VALIDATION: 'DOC_VALIDATION',
  DOC_TOO_LARGE: 'DOC_TOO_LARGE',
  COLLECTION_NOT_FOUND: 'COLLECTION_NOT_FOUND',
  DOC_NOT_FOUND: 'DOC_NOT_FOUND',
  INDEX_NOT_FOUND: 'INDEX_NOT_FOUND',
  INDEX_EXISTS: 'INDEX_EXISTS',
  AGGREGATE_MEMORY_LIMIT: 'AGGREGATE_MEMORY_LIMIT',
  CURSOR_INVALID: 'CURSOR_INVALID',
  TABLE_NOT_FOUND: 'TABLE_NOT_FOUND',
  TABLE_EXISTS: 'TABLE_EXISTS',
  COLUMN_EXISTS: 'COLUMN_EXISTS',
  UNKNOWN_COLUMN: 'UNKNOWN_COLUMN',
  TYPE_MISMATCH: 'TYPE_MISMATCH',
  NOT_NULL_VIOLATION: 'NOT_NULL_VIOLATION',
  INVALID_SCHEMA: 'INVALID_SCHEMA',
  /** CQL (Cassandra's error classes): a statement that does not parse. */
  SyntaxException: 'SyntaxException',
  /** CQL: a statement that parses but is invalid (Cassandra's InvalidRequest, "Invalid"). */
  Invalid: 'Invalid',
  /** CQL: CREATE of a table (or index) that exists. */
  AlreadyExists: 'AlreadyExists',
  SQL_SYNTAX_ERROR: 'SQL_SYNTAX_ERROR',
  SQL_UNDEFINED_TABLE: 'SQL_UNDEFINED_TABLE',
  SQL_UNDEFINED_COLUMN: 'SQL_UNDEFINED_COLUMN',
  SQL_AMBIGUOUS_COLUMN: 'SQL_AMBIGUOUS_COLUMN',
  SQL_UNDEFINED_FUNCTION: 'SQL_UNDEFINED_FUNCTION',
  SQL_TYPE_MISMATCH: 'SQL_TYPE_MISMATCH',
  SQL_DIVISION_BY_ZERO: 'SQL_DIVISION_BY_ZERO',
  SQL_OUT_OF_RANGE: 'SQL_OUT_OF_RANGE',
  SQL_INVALID_TEXT: 'SQL_INVALID_TEXT',
  SQL_GROUPING_ERROR: 'SQL_GROUPING_ERROR',
  SQL_CARDINALITY: 'SQL_CARDINALITY',
  SQL_NOT_SUPPORTED: 'SQL_NOT_SUPPORTED',
  SQL_MEMORY_LIMIT: 'SQL_MEMORY_LIMIT',
  SQL_CONSTRAINT: 'SQL_CONSTRAINT',
  SQL_DUPLICATE_OBJECT: 'SQL_DUPLICATE_OBJECT',
  SQL_INVALID_PARAMETER: 'SQL_INVALID_PARAMETER',
  SQL_ERROR: 'SQL_ERROR',
  SQL_CANCELED: 'SQL_CANCELED',
  INTERNAL: 'INTERNAL',
});

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const HTTP_STATUS: Record<ErrorCode, number> = {
  NOT_FOUND: 404,
  KEY_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  INVALID_KEY: 400,
  KEY_TOO_LARGE: 400,
  VALUE_TOO_LARGE: 413,
  BODY_TOO_LARGE: 413,
  INVALID_TTL: 400,
  INVALID_CONTENT_TYPE: 400,
  INVALID_PARAMETER: 400,
  INVALID_JSON: 400,
  INVALID_BATCH: 400,
  BATCH_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SHARD_UNAVAILABLE: 503,
  SHARD_BUSY: 503,
  SHUTTING_DOWN: 503,
  STORAGE_IO: 503,
  STORAGE_FULL: 507,
  DATA_CORRUPT: 500,
  DEADLINE_EXCEEDED: 504,
  CACHE_DISABLED: 409,
  DEPENDENCY_NOT_FOUND: 404,
  DEPENDENCY_LIMIT: 507,
  TAG_LIMIT: 507,
  TXN_ABORTED: 409,
  TXN_CONFLICT: 409,
  TXN_NOT_FOUND: 404,
  TXN_EXPIRED: 410,
  TXN_SNAPSHOT_TOO_OLD: 410,
  TXN_LIMIT: 503,
  TXN_OUTCOME_UNKNOWN: 500,
  BAD_QUERY: 400,
  DUPLICATE_KEY: 409,
  DOC_VALIDATION: 400,
  DOC_TOO_LARGE: 413,
  COLLECTION_NOT_FOUND: 404,
  DOC_NOT_FOUND: 404,
  INDEX_NOT_FOUND: 404,
  INDEX_EXISTS: 409,
  AGGREGATE_MEMORY_LIMIT: 400,
  CURSOR_INVALID: 400,
  TABLE_NOT_FOUND: 404,
  TABLE_EXISTS: 409,
  COLUMN_EXISTS: 409,
  UNKNOWN_COLUMN: 400,
  TYPE_MISMATCH: 400,
  NOT_NULL_VIOLATION: 400,
  INVALID_SCHEMA: 400,
  SyntaxException: 400,
  Invalid: 400,
  AlreadyExists: 409,
  SQL_SYNTAX_ERROR: 400,
  SQL_UNDEFINED_TABLE: 404,
  SQL_UNDEFINED_COLUMN: 400,
  SQL_AMBIGUOUS_COLUMN: 400,
  SQL_UNDEFINED_FUNCTION: 400,
  SQL_TYPE_MISMATCH: 400,
  SQL_DIVISION_BY_ZERO: 400,
  SQL_OUT_OF_RANGE: 400,
  SQL_INVALID_TEXT: 400,
  SQL_GROUPING_ERROR: 400,
  SQL_CARDINALITY: 400,
  SQL_NOT_SUPPORTED: 400,
  SQL_MEMORY_LIMIT: 400,
  SQL_CONSTRAINT: 400,
  SQL_DUPLICATE_OBJECT: 409,
  SQL_INVALID_PARAMETER: 400,
  SQL_ERROR: 400,
  SQL_CANCELED: 400,
  INTERNAL: 500,
};

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SHARD_UNAVAILABLE',
  'SHARD_BUSY',
  'SHUTTING_DOWN',
  'TXN_LIMIT',
]);

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.prototype.hasOwnProperty.call(HTTP_STATUS, value);
}

/** An expected failure a client can act on. Bugs are assertions, not this. */
export class MantisError extends Error {
  readonly code: ErrorCode;
  /** Extra fields of the error object a client gets (e.g. a conflict's key and reason). */
  readonly details: Readonly<Record<string, string | number>> | undefined;
  constructor(code: ErrorCode, message: string, details?: Readonly<Record<string, string | number>>) {
    super(message);
    this.name = 'MantisError';
    this.code = code;
    this.details = details;
  }
  get status(): number {
    return httpStatusOf(this.code);
  }
  get retryable(): boolean {
    return isRetryable(this.code);
  }
}

/** An impossible state: crash loudly (in tests) rather than limp on. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

export function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
