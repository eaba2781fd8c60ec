// The JSON Schemas several routes share (components.schemas of the OpenAPI
// description). Each mirrors the function that writes the shape, named in
// its comment; route specs reference them with ref('Name').

import { CACHE_POLICY_NAMES } from '../../shared/cache/policy.js';
import { AGGREGATE_FNS, COLUMN_TYPES } from '../../shared/tables/table-types.js';
import { ALERT_METRICS, ALERT_OPS, SEVERITIES } from '../ops/alerts.js';
import { LIVE_CLASSES } from '../ops/live-counters.js';
import { POLICY_COMMANDS } from '../security/policy-types.js';
import { ACTIONS } from '../security/principal.js';
import { ROUTE_CLASSES } from '../security/rate-limit.js';
import { ISOLATION_LEVELS } from '../../shared/txn/txn-wire.js';
import { any, arr, bool, closed, dateTime, enumOf, freeObject, int, nul, nullable, num, obj, oneOf, ref, str, type JsonSchema } from './api-spec.js';

const rates = obj({ requests_per_s: num(), errors_per_s: num() }, ['requests_per_s', 'errors_per_s']);

export const SCHEMAS: Readonly<Record<string, JsonSchema>> = {
  // reply.ts errorReply
  ErrorObject: obj(
    {
      code: str('the error code (see x-mantis-error-codes at the top of this document)'),
      message: str('what went wrong, for people'),
      retryable: bool('true only for the codes that may be sent again unchanged (with Retry-After)'),
    },
    ['code', 'message', 'retryable'],
    'Some codes add fields: key and reason (TXN_CONFLICT), index (DUPLICATE_KEY), column and row (table errors), sqlstate and position (SQL), permission (FORBIDDEN), path (DOC_VALIDATION), retry_after_s (ACCOUNT_LOCKED).',
  ),
  ErrorEnvelope: obj({ success: { const: false }, error: ref('ErrorObject') }, ['success', 'error']),

  // hono-app.ts readiness
  ShardHealth: obj(
    {
      id: int(),
      state: enumOf(['starting', 'ready', 'restarting', 'stopping', 'stopped']),
      keys: int(),
      restarts: int(),
      storage_failed: bool('the shard refuses writes'),
      quarantined_tables: int(),
      disk: obj({ table_bytes: int(), wal_bytes: int(), free_bytes: int() }),
      replay: nullable(freeObject('the summary of the last WAL replay')),
    },
    ['id', 'state', 'keys', 'restarts', 'storage_failed', 'quarantined_tables', 'disk'],
  ),

  // ops/metric-sampler.ts MetricSnapshot
  MetricSnapshot: obj(
    {
      ts: int('end of the interval, ms since the epoch'),
      interval_ms: int(),
      requests_per_s: num(),
      errors_per_s: num('5xx answers per second'),
      error_ratio: num(),
      by_class: obj(Object.fromEntries(LIVE_CLASSES.map((c) => [c, rates]))),
      latency_p50_ms: nullable(num()),
      latency_p95_ms: nullable(num()),
      latency_p99_ms: nullable(num()),
      cache_hit_rate: nullable(num()),
      memory_rss_bytes: num(),
      memory_heap_used_bytes: num(),
      disk_free_bytes: num(),
      open_transactions: int(),
      connections: int(),
      compactions_per_s: num(),
      flushes_per_s: num(),
      wal_bytes_per_s: num(),
      shards: arr(
        obj(
          { id: int(), ops_per_s: num(), queue_depth: int(), wal_bytes: int(), wal_bytes_per_s: num(), fsync_p99_ms: nullable(num()), ready: bool() },
          ['id', 'ops_per_s', 'queue_depth', 'wal_bytes', 'wal_bytes_per_s', 'fsync_p99_ms', 'ready'],
        ),
      ),
    },
    ['ts', 'interval_ms', 'requests_per_s', 'errors_per_s', 'error_ratio', 'by_class', 'shards'],
  ),

  // ops/alerts.ts parseRule
  AlertRule: closed(
    {
      name: str('1-64 letters, digits, "_", "." and "-", starting with a letter or digit', { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
      metric: enumOf(ALERT_METRICS),
      op: enumOf(ALERT_OPS),
      value: num('the threshold'),
      for_s: int('seconds the condition must hold before the rule fires (default 0)', { minimum: 0, maximum: 86_400 }),
      severity: enumOf(SEVERITIES, 'default warning'),
      description: str(undefined, { maxLength: 500 }),
    },
    ['name', 'metric', 'op', 'value'],
  ),
  // ops/alerts.ts AlertStatus
  AlertStatus: obj(
    {
      name: str(),
      state: enumOf(['inactive', 'pending', 'firing']),
      value: nullable(num()),
      since: nullable(int('when the rule entered its state, ms since the epoch')),
      severity: enumOf(SEVERITIES),
      metric: enumOf(ALERT_METRICS),
      op: enumOf(ALERT_OPS),
      threshold: num(),
      for_s: int(),
    },
    ['name', 'state', 'value', 'since', 'severity', 'metric', 'op', 'threshold', 'for_s'],
  ),

  // ops/backups.ts BackupSummary
  BackupSummary: obj(
    {
      id: str('the cut\'s UTC time plus a random suffix: ids sort by time'),
      path: str('the backup\'s folder'),
      commit_ts: int('the commit timestamp the backup is consistent at'),
      created_at: dateTime(),
      incremental: bool(),
      base: nullable(str('the backup an incremental one reused files from')),
      files: int(),
      bytes: int(),
      copied_bytes: int('what this backup copied (less than bytes when files were reused)'),
      duration_ms: num(),
    },
    ['id', 'path', 'commit_ts', 'created_at', 'incremental', 'base', 'files', 'bytes'],
  ),

  // cache-stats.ts figures
  CacheFigures: obj(
    {
      hits: int(),
      misses: int(),
      hit_rate: nullable(num()),
      evictions: int(),
      expirations: int(),
      refused: int('entries too large for the segment'),
      fallbacks: int('router reads that went to the ring'),
      bytes: int(),
      entries: int(),
      capacity: int(),
    },
    ['hits', 'misses', 'hit_rate', 'evictions', 'expirations', 'refused', 'fallbacks', 'bytes', 'entries', 'capacity'],
  ),
  // shared/cache/policy.ts parsePolicyRules
  CachePolicyRule: closed(
    {
      prefix: str('a key prefix ("" is every key)'),
      policy: enumOf(CACHE_POLICY_NAMES),
      read_through: bool('read misses from storage into the cache (not with cache-only)'),
    },
    ['prefix', 'policy'],
  ),

  // doc-routes.ts indexJson
  DocIndex: obj(
    {
      name: str(),
      keys: freeObject('path → 1, -1, "hashed" or "text"'),
      unique: bool(),
      sparse: bool(),
      ttl_seconds: nullable(int()),
      partial_filter: nullable(freeObject()),
      type: enumOf(['btree', 'hash', 'text']),
      state: str(),
      building: bool(),
      entries: nullable(int('index entries (null under row-level security)')),
    },
    ['name', 'keys', 'unique', 'sparse', 'ttl_seconds', 'partial_filter', 'type', 'state', 'building'],
  ),
  // doc-routes.ts listingJson
  CollectionSummary: obj(
    { name: str(), count: int(), size_bytes: int(), indexes: int(), created_at: dateTime(), row_level_security: { const: true } },
    ['name', 'count', 'size_bytes', 'indexes', 'created_at'],
  ),
  // doc-routes.ts describeJson
  CollectionInfo: obj(
    {
      name: str(),
      options: obj({ validator: nullable(freeObject()) }, ['validator']),
      indexes: arr(ref('DocIndex')),
      count: int(),
      size_bytes: int(),
      stats: obj({ count: int(), size_bytes: int() }),
      created_at: dateTime(),
      catalog_version: int(),
      row_level_security: { const: true },
    },
    ['name', 'options', 'indexes', 'count', 'size_bytes', 'stats', 'created_at', 'catalog_version'],
  ),
  Document: freeObject('a document in relaxed (or canonical) Extended JSON: {"$oid": …}, {"$date": …}, {"$numberLong": …} …'),
  Filter: freeObject('a MongoDB-style query document ({"age": {"$gt": 30}})'),
  // doc-routes.ts actionRoute 'update' and by-id PUT
  UpdateOutcome: obj({ matched: int(), modified: int(), upserted_id: any('the upserted document\'s _id, or null') }, ['matched', 'modified', 'upserted_id']),

  // table-routes.ts tableJson
  TableColumn: obj(
    { name: str(), type: enumOf(COLUMN_TYPES), nullable: bool(), default: any('the default cell, or null'), cql_type: str('the CQL type, for tables made by CQL') },
    ['name', 'type', 'nullable', 'default'],
  ),
  TableIndex: obj({ name: str(), type: enumOf(['btree', 'hash', 'bloom']), columns: arr(str()), unique: bool(), state: str() }, ['name', 'type', 'columns', 'unique', 'state']),
  TableInfo: obj(
    {
      name: str(),
      columns: arr(ref('TableColumn')),
      primary_key: arr(str()),
      partition_key_length: int(),
      key_desc: arr(bool(), 'clustering order per key column (CQL tables), when any is descending'),
      indexes: arr(ref('TableIndex')),
      default_ttl_seconds: int(),
      cql: bool('made by CQL'),
      created_at: dateTime(),
      catalog_version: int(),
    },
    ['name', 'columns', 'primary_key', 'partition_key_length', 'indexes', 'default_ttl_seconds', 'cql', 'created_at', 'catalog_version'],
  ),
  // table-routes.ts columnInput
  ColumnInput: closed(
    {
      name: str(),
      type: enumOf(COLUMN_TYPES),
      nullable: bool('default true; primary-key columns are always NOT NULL'),
      default: any('a cell of the column\'s type (as the tables API writes cells), or null'),
    },
    ['name', 'type'],
  ),
  // shared/tables/where.ts
  Where: oneOf(
    closed({ and: arr(ref('Where')) }, ['and']),
    closed({ or: arr(ref('Where')) }, ['or']),
    closed({ not: ref('Where') }, ['not']),
    closed(
      {
        col: str('a column name'),
        op: enumOf(['=', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'is_null', 'is_not_null', 'starts_with']),
        value: any('one cell; an array of at most 10,000 non-null cells for in/not_in; none for is_null/is_not_null; a string prefix for starts_with'),
      },
      ['col', 'op'],
    ),
  ),
  // table-service.ts QueryStats
  QueryStats: obj(
    { took_ms: num(), shards: int(), segments_scanned: int(), segments_pruned: int(), rows_scanned: int(), plan: str() },
    ['took_ms', 'shards', 'segments_scanned', 'segments_pruned', 'rows_scanned', 'plan'],
  ),
  AggregateSpec: closed({ fn: enumOf(AGGREGATE_FNS), column: str('a column, or "*" / absent for count(*)'), as: str('the output name (default fn_column)') }, ['fn']),

  // auth-routes.ts userJson
  User: obj(
    { username: str(), roles: arr(str()), claims: freeObject(), created_at: dateTime(), source: enumOf(['local', 'oauth']) },
    ['username', 'roles', 'claims', 'created_at', 'source'],
  ),
  // auth-routes.ts keyJson
  ApiKey: obj(
    {
      id: str(),
      name: str(),
      roles: arr(str()),
      claims: freeObject(),
      created_at: dateTime(),
      created_by: str('"user:alice", or "system" with auth off'),
      expires_at: nullable(dateTime()),
      revoked_at: nullable(dateTime()),
    },
    ['id', 'name', 'roles', 'claims', 'created_at', 'created_by', 'expires_at', 'revoked_at'],
  ),
  Permission: closed(
    {
      resource: str('kv:<prefix>, docs:<collection> or docs:*, tables:<table> or tables:*, sql, cache, admin, or *'),
      actions: arr(enumOf(ACTIONS), undefined, { minItems: 1 }),
    },
    ['resource', 'actions'],
  ),
  Role: obj({ name: str(), permissions: arr(ref('Permission')), builtin: bool() }, ['name', 'permissions', 'builtin']),
  // security/policy-types.ts Policy
  Policy: oneOf(
    obj(
      { kind: { const: 'docs' }, name: str(), collection: str(), command: enumOf(POLICY_COMMANDS), roles: arr(str()), using: nullable(freeObject()), check: nullable(freeObject()) },
      ['kind', 'name', 'collection', 'command', 'roles', 'using', 'check'],
    ),
    obj({ kind: { const: 'kv' }, name: str(), template: str('a key prefix with {claim} placeholders'), command: enumOf(POLICY_COMMANDS), roles: arr(str()) }, [
      'kind',
      'name',
      'template',
      'command',
      'roles',
    ]),
    obj(
      { kind: { const: 'table' }, name: str(), table: str(), command: enumOf(POLICY_COMMANDS), roles: arr(str()), using: nullable(str()), check: nullable(str()) },
      ['kind', 'name', 'table', 'command', 'roles', 'using', 'check'],
    ),
  ),
  // security/audit.ts AuditEntry
  AuditEntry: obj(
    { ts: dateTime(), action: str(), outcome: enumOf(['success', 'failure']), actor: str(), ip: str(), target: str(), details: freeObject() },
    ['ts', 'action', 'outcome', 'actor'],
  ),
  // auth-routes.ts limitsJson
  RateLimits: obj(
    {
      rps: int('per identity, for every class without its own limit; 0 = no limit'),
      burst: int(),
      classes: obj(Object.fromEntries(ROUTE_CLASSES.map((c) => [c, obj({ rps: int(), burst: int() }, ['rps', 'burst'])]))),
      connections_per_ip: int('concurrent requests plus streams per client IP; 0 = no limit'),
    },
    ['rps', 'burst', 'classes', 'connections_per_ip'],
  ),
  // auth-routes.ts issueSession
  Session: obj(
    {
      token: str('the session JWT: send it as Authorization: Bearer …'),
      token_type: { const: 'Bearer' },
      expires_at: dateTime(),
      expires_in: int('seconds'),
      csrf_token: str('the X-CSRF-Token value for cookie-authenticated requests other than GET'),
      user: ref('User'),
    },
    ['token', 'token_type', 'expires_at', 'expires_in', 'csrf_token', 'user'],
  ),

  Isolation: enumOf(ISOLATION_LEVELS, 'default serializable'),
  Null: nul,
};
