// Server configuration: every flag has an environment variable MANTIS_* and
// a default, validated at start-up so a bad value stops the server with a
// clear message instead of surfacing later as a strange failure.

import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve, sep } from 'node:path';
import { Cron } from 'croner';
import { LIMITS } from '../shared/limits.js';
import type { FsyncPolicy, StorageInit } from '../shared/shard-contract.js';

export type Config = {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** null = not given: use what the data directory was created with, else the core count. */
  readonly shards: number | null;
  readonly fsync: FsyncPolicy;
  readonly fsyncBatchMs: number;
  readonly maxValueBytes: number;
  readonly logLevel: string;
  readonly httpFastPath: boolean;
  readonly storage: StorageInit;
  /** Bytes of shared memory for the cache, split evenly across shards; 0 = no cache. */
  readonly cacheBytes: number;
  /** write-back policy: dirty writes reach the WAL within this many ms. */
  readonly writeBackMs: number;
  /** JSON file of cache policies by key prefix loaded at start ('' = none). */
  readonly cachePoliciesFile: string;
  /** Warn when a shard's cache hit rate stays below this (0..1; 0 = never warn)… */
  readonly cacheHitRateWarn: number;
  /** …for this many seconds in a row. */
  readonly cacheHitRateWindowS: number;
  /** A transaction older than this is aborted (TXN_SNAPSHOT_TOO_OLD) rather than pin old versions. */
  readonly txnMaxAgeMs: number;
  /** Router memory one SQL statement may hold (MiB) before it is refused with 53200. */
  readonly sqlMemoryMb: number;
  readonly security: SecurityConfig;
  readonly ops: OpsConfig;
};

export type OpsConfig = {
  /** URLs that get POST JSON on each alert change to firing or resolved. */
  readonly alertWebhooks: readonly string[];
  /** Where backups go ('' = backups off). */
  readonly backupDir: string;
  /** Cron expression (croner) for scheduled backups ('' = none). */
  readonly backupSchedule: string;
  readonly backupKeepLast: number;
  readonly backupKeepDaily: number;
  readonly backupKeepWeekly: number;
  /** Where retired WAL segments are kept for point-in-time recovery ('' = not kept). */
  readonly walArchive: string;
};

export type Profile = 'dev' | 'staging' | 'prod';

export type SecurityConfig = {
  readonly profile: Profile;
  readonly auth: boolean;
  readonly tls: boolean;
  /** true when --tls off was given explicitly (prod accepts plain HTTP only then, e.g. behind a TLS proxy). */
  readonly tlsExplicitlyOff: boolean;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly rateLimitRps: number;
  readonly rateLimitBurst: number;
  readonly connLimitPerIp: number;
  readonly corsOrigins: readonly string[];
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
  readonly jwtTtlS: number;
  readonly jwtJwksUrl: string;
  readonly jwtExternalIssuer: string;
  readonly jwtPublicKeyFile: string;
  readonly jwtRolesClaim: string;
  /** JSON array of OAuth/OIDC providers (or a path to a file holding it); '' = none. */
  readonly oauthProviders: string;
  /** The URL browsers reach the server at (OAuth redirect URIs); '' = derived from the request. */
  readonly publicUrl: string;
};

/**
 * Each profile is a set of defaults; a flag or MANTIS_* variable still wins. dev is today's open
 * two-command start; staging turns auth and rate limits on; prod also wants TLS, fsync always and
 * refuses to start with an unsafe configuration (exit 2).
 */
export const PROFILES: Readonly<Record<Profile, Readonly<Record<string, string>>>> = {
  dev: { auth: 'off', tls: 'off', fsync: 'batch', 'log-level': 'info', 'rate-limit-rps': '0', 'rate-limit-burst': '0', 'conn-limit-per-ip': '0' },
  staging: { auth: 'on', tls: 'off', fsync: 'batch', 'log-level': 'info', 'rate-limit-rps': '2000', 'rate-limit-burst': '4000', 'conn-limit-per-ip': '1024' },
  prod: { auth: 'on', tls: 'on', fsync: 'always', 'log-level': 'warn', 'rate-limit-rps': '2000', 'rate-limit-burst': '4000', 'conn-limit-per-ip': '1024' },
};

type Option = {
  readonly flag: string;
  readonly env: string;
  readonly fallback: string;
  readonly help: string;
};

export const OPTIONS: readonly Option[] = [
  { flag: 'profile', env: 'MANTIS_PROFILE', fallback: 'dev', help: 'dev | staging | prod: a documented set of defaults (auth, TLS, fsync, log level, rate limits)' },
  { flag: 'auth', env: 'MANTIS_AUTH', fallback: 'profile', help: 'on | off: require credentials (default off in dev, on otherwise)' },
  { flag: 'tls', env: 'MANTIS_TLS', fallback: 'profile', help: 'on | off: serve HTTPS with --tls-cert/--tls-key (default on in prod)' },
  { flag: 'tls-cert', env: 'MANTIS_TLS_CERT', fallback: '', help: 'PEM certificate chain file (re-read on SIGHUP)' },
  { flag: 'tls-key', env: 'MANTIS_TLS_KEY', fallback: '', help: 'PEM private key file (re-read on SIGHUP)' },
  { flag: 'rate-limit-rps', env: 'MANTIS_RATE_LIMIT_RPS', fallback: 'profile', help: 'requests per second per identity and route class; 0 = off' },
  { flag: 'rate-limit-burst', env: 'MANTIS_RATE_LIMIT_BURST', fallback: 'profile', help: 'token bucket size per identity and route class' },
  { flag: 'conn-limit-per-ip', env: 'MANTIS_CONN_LIMIT_PER_IP', fallback: 'profile', help: 'concurrent requests plus streams per client IP; 0 = off' },
  { flag: 'cors-origins', env: 'MANTIS_CORS_ORIGINS', fallback: '', help: 'comma-separated origins allowed by CORS (none by default)' },
  { flag: 'jwt-issuer', env: 'MANTIS_JWT_ISSUER', fallback: 'mantisdb', help: 'iss of the tokens this server signs' },
  { flag: 'jwt-audience', env: 'MANTIS_JWT_AUDIENCE', fallback: 'mantisdb', help: 'aud every accepted token must carry' },
  { flag: 'jwt-ttl-s', env: 'MANTIS_JWT_TTL_S', fallback: '3600', help: 'lifetime of the tokens and sessions this server issues' },
  { flag: 'jwt-jwks-url', env: 'MANTIS_JWT_JWKS_URL', fallback: '', help: 'JWKS of an outside token issuer (keys cached and rotated)' },
  { flag: 'jwt-external-issuer', env: 'MANTIS_JWT_EXTERNAL_ISSUER', fallback: '', help: 'iss required of outside tokens' },
  { flag: 'jwt-public-key-file', env: 'MANTIS_JWT_PUBLIC_KEY_FILE', fallback: '', help: 'PEM public key or certificate of an outside issuer (instead of a JWKS)' },
  { flag: 'jwt-roles-claim', env: 'MANTIS_JWT_ROLES_CLAIM', fallback: 'roles', help: 'claim of outside tokens that lists their roles' },
  { flag: 'oauth-providers', env: 'MANTIS_OAUTH_PROVIDERS', fallback: '', help: 'OAuth2/OIDC login providers: a JSON array, or a file holding one' },
  { flag: 'public-url', env: 'MANTIS_PUBLIC_URL', fallback: '', help: 'the URL browsers use to reach this server (OAuth redirects)' },
  { flag: 'host', env: 'MANTIS_HOST', fallback: '127.0.0.1', help: 'address to listen on' },
  { flag: 'port', env: 'MANTIS_PORT', fallback: '8080', help: 'TCP port; 0 picks a free one' },
  { flag: 'data-dir', env: 'MANTIS_DATA_DIR', fallback: './data', help: 'data directory (created if missing, locked while running)' },
  { flag: 'shards', env: 'MANTIS_SHARDS', fallback: '', help: 'shard worker threads (default: as created, else the core count)' },
  { flag: 'fsync', env: 'MANTIS_FSYNC', fallback: 'batch', help: 'always | batch | none: when a write is acknowledged' },
  { flag: 'fsync-batch-ms', env: 'MANTIS_FSYNC_BATCH_MS', fallback: '2', help: 'batch policy: fsync at least this often (ms)' },
  { flag: 'max-value-bytes', env: 'MANTIS_MAX_VALUE_BYTES', fallback: String(LIMITS.value_bytes_max_default), help: 'largest value accepted (413 above)' },
  { flag: 'log-level', env: 'MANTIS_LOG_LEVEL', fallback: 'info', help: 'pino level: fatal error warn info debug trace silent' },
  { flag: 'http-fast-path', env: 'MANTIS_HTTP_FAST_PATH', fallback: 'on', help: 'on | off: serve the hot KV routes natively in uWebSockets.js' },
  { flag: 'memory-budget-mb', env: 'MANTIS_MEMORY_BUDGET_MB', fallback: '256', help: 'memtables + block cache + table indexes and filters, split across shards' },
  { flag: 'block-bytes', env: 'MANTIS_BLOCK_BYTES', fallback: '8192', help: 'target size of an SSTable data block before compression' },
  { flag: 'level1-mb', env: 'MANTIS_LEVEL1_MB', fallback: '', help: 'target size of LSM level 1 per shard (default: 4 memtables)' },
  { flag: 'level-multiplier', env: 'MANTIS_LEVEL_MULTIPLIER', fallback: '10', help: 'each LSM level is this many times the one above' },
  { flag: 'cache-mb', env: 'MANTIS_CACHE_MB', fallback: '64', help: 'shared-memory cache in front of storage, split across shards; 0 = off' },
  { flag: 'write-back-ms', env: 'MANTIS_WRITE_BACK_MS', fallback: '100', help: 'write-back cache policy: acknowledged writes reach the WAL within this many ms' },
  { flag: 'cache-policies', env: 'MANTIS_CACHE_POLICIES', fallback: '', help: 'JSON file of cache policies by key prefix, loaded at start' },
  { flag: 'cache-hit-rate-warn', env: 'MANTIS_CACHE_HIT_RATE_WARN', fallback: '0.5', help: 'warn when a shard\'s cache hit rate stays below this (0..1; 0 = off)' },
  { flag: 'cache-hit-rate-window-s', env: 'MANTIS_CACHE_HIT_RATE_WINDOW_S', fallback: '60', help: 'seconds the hit rate must stay low before the warning' },
  { flag: 'sql-memory-mb', env: 'MANTIS_SQL_MEMORY_MB', fallback: '2048', help: 'router memory one SQL statement may hold before it is refused (SQL_MEMORY_LIMIT, 53200)' },
  { flag: 'alert-webhook', env: 'MANTIS_ALERT_WEBHOOK', fallback: '', help: 'comma-separated URLs that get POST JSON when an alert fires or resolves' },
  { flag: 'backup-dir', env: 'MANTIS_BACKUP_DIR', fallback: '', help: 'directory for online backups (POST /api/v1/backups); none = backups off' },
  { flag: 'backup-schedule', env: 'MANTIS_BACKUP_SCHEDULE', fallback: '', help: 'cron expression for scheduled backups, e.g. "0 3 * * *" (needs --backup-dir)' },
  { flag: 'backup-keep-last', env: 'MANTIS_BACKUP_KEEP_LAST', fallback: '0', help: 'retention: keep the newest N backups (0 with no other keep-* = keep all)' },
  { flag: 'backup-keep-daily', env: 'MANTIS_BACKUP_KEEP_DAILY', fallback: '0', help: 'retention: keep the newest backup of each of the last N days' },
  { flag: 'backup-keep-weekly', env: 'MANTIS_BACKUP_KEEP_WEEKLY', fallback: '0', help: 'retention: keep the newest backup of each of the last N weeks' },
  { flag: 'wal-archive', env: 'MANTIS_WAL_ARCHIVE', fallback: '', help: 'directory that keeps every retired WAL segment (point-in-time recovery)' },
  { flag: 'txn-max-age-ms', env: 'MANTIS_TXN_MAX_AGE_MS', fallback: String(LIMITS.txn_max_age_ms_default), help: 'a transaction older than this is aborted (TXN_SNAPSHOT_TOO_OLD)' },
];

export class ConfigError extends Error {}

export function usage(): string {
  const lines = OPTIONS.map((o) => `  --${o.flag.padEnd(16)} ${o.env.padEnd(24)} ${o.help} (default: ${o.fallback === 'profile' ? `by profile: ${(['dev', 'staging', 'prod'] as const).map((p) => `${p} ${PROFILES[p][o.flag]}`).join(', ')}` : o.fallback || 'see text'})`);
  return ['Usage: mantisdb [options]', '', '  flag               env var', ...lines, '  --help'].join('\n');
}

function integer(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new ConfigError(`--${name} must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`--${name} must be in ${min}..${max}, got ${value}`);
  return value;
}

function fraction(name: string, raw: string): number {
  if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(raw)) throw new ConfigError(`--${name} must be a number in 0..1, got "${raw}"`);
  return Number(raw);
}

function parseArgv(argv: readonly string[]): Map<string, string> {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!OPTIONS.some((o) => o.flag === name)) throw new ConfigError(`unknown flag --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    given.set(name, value);
  }
  return given;
}

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  const given = parseArgv(argv);
  const raw = (flag: string): string | undefined => {
    const option = OPTIONS.find((o) => o.flag === flag) as Option;
    return given.get(flag) ?? env[option.env];
  };
  const profile = raw('profile') ?? 'dev';
  if (profile !== 'dev' && profile !== 'staging' && profile !== 'prod') throw new ConfigError(`--profile must be dev, staging or prod, got "${profile}"`);
  const get = (flag: string): string => {
    const option = OPTIONS.find((o) => o.flag === flag) as Option;
    return raw(flag) ?? PROFILES[profile][flag] ?? option.fallback;
  };
  const fsync = get('fsync');
  if (fsync !== 'always' && fsync !== 'batch' && fsync !== 'none') {
    throw new ConfigError(`--fsync must be always, batch or none, got "${fsync}"`);
  }
  const fastPath = get('http-fast-path');
  if (fastPath !== 'on' && fastPath !== 'off') throw new ConfigError(`--http-fast-path must be on or off, got "${fastPath}"`);
  const shards = get('shards');
  const host = get('host');
  if (host === '') throw new ConfigError('--host must not be empty');
  return {
    host,
    port: integer('port', get('port'), 0, 65535),
    dataDir: get('data-dir'),
    shards: shards === '' ? null : integer('shards', shards, 1, 256),
    fsync,
    fsyncBatchMs: integer('fsync-batch-ms', get('fsync-batch-ms'), 1, 10_000),
    maxValueBytes: integer('max-value-bytes', get('max-value-bytes'), 1, LIMITS.value_bytes_max_ceiling),
    logLevel: get('log-level'),
    httpFastPath: fastPath === 'on',
    storage: {
      memoryBudgetBytes: integer('memory-budget-mb', get('memory-budget-mb'), 4, 1024 * 1024) * 1024 * 1024,
      blockBytes: integer('block-bytes', get('block-bytes'), 1024, 1024 * 1024),
      level1Bytes: get('level1-mb') === '' ? null : integer('level1-mb', get('level1-mb'), 1, 1024 * 1024) * 1024 * 1024,
      levelMultiplier: integer('level-multiplier', get('level-multiplier'), 2, 100),
    },
    cacheBytes: integer('cache-mb', get('cache-mb'), 0, LIMITS.cache_mb_max) * 1024 * 1024,
    writeBackMs: integer('write-back-ms', get('write-back-ms'), 1, 60_000),
    cachePoliciesFile: get('cache-policies'),
    cacheHitRateWarn: fraction('cache-hit-rate-warn', get('cache-hit-rate-warn')),
    cacheHitRateWindowS: integer('cache-hit-rate-window-s', get('cache-hit-rate-window-s'), 1, 86_400),
    txnMaxAgeMs: integer('txn-max-age-ms', get('txn-max-age-ms'), 100, 86_400_000),
    sqlMemoryMb: integer('sql-memory-mb', get('sql-memory-mb'), 16, 1_048_576),
    security: securityConfig(profile, get, raw('tls') === 'off'),
    ops: opsConfig(get),
  };
}

function opsConfig(get: (flag: string) => string): OpsConfig {
  const webhooks = get('alert-webhook').split(',').map((u) => u.trim()).filter((u) => u !== '');
  for (const url of webhooks) {
    let ok = false;
    try {
      const parsed = new URL(url);
      ok = parsed.protocol === 'http:' || parsed.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError(`--alert-webhook: "${url}" is not an http(s) URL`);
  }
  const backupDir = get('backup-dir');
  const backupSchedule = get('backup-schedule').trim();
  if (backupSchedule !== '' && backupDir === '') throw new ConfigError('--backup-schedule needs --backup-dir');
  if (backupSchedule !== '') {
    try {
      new Cron(backupSchedule, { paused: true }).stop();
    } catch (error) {
      throw new ConfigError(`--backup-schedule: "${backupSchedule}" is not a cron expression (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (backupDir !== '' && walArchiveInside(backupDir, get('data-dir'))) throw new ConfigError('--backup-dir must not be inside --data-dir (a backup would hold itself)');
  return {
    alertWebhooks: webhooks,
    backupDir,
    backupSchedule,
    backupKeepLast: integer('backup-keep-last', get('backup-keep-last'), 0, 100_000),
    backupKeepDaily: integer('backup-keep-daily', get('backup-keep-daily'), 0, 100_000),
    backupKeepWeekly: integer('backup-keep-weekly', get('backup-keep-weekly'), 0, 100_000),
    walArchive: (() => {
      const archive = get('wal-archive');
      if (archive !== '' && walArchiveInside(archive, get('data-dir'))) throw new ConfigError('--wal-archive must not be inside --data-dir');
      return archive;
    })(),
  };
}

function onOff(name: string, value: string): boolean {
  if (value !== 'on' && value !== 'off') throw new ConfigError(`--${name} must be on or off, got "${value}"`);
  return value === 'on';
}

function securityConfig(profile: Profile, get: (flag: string) => string, tlsExplicitlyOff: boolean): SecurityConfig {
  const tls = onOff('tls', get('tls'));
  const tlsCert = get('tls-cert');
  const tlsKey = get('tls-key');
  if (tls && (tlsCert === '' || tlsKey === '')) {
    throw new ConfigError(`TLS is on (profile ${profile}) but --tls-cert and --tls-key are not both given; give them, or --tls off to serve plain HTTP (e.g. behind a TLS proxy)`);
  }
  if (tls) {
    for (const [flag, file] of [['tls-cert', tlsCert], ['tls-key', tlsKey]] as const) {
      try {
        accessSync(file, constants.R_OK);
      } catch {
        throw new ConfigError(`--${flag}: cannot read ${file}`);
      }
    }
  }
  const url = (name: string): string => {
    const value = get(name);
    if (value === '') return '';
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new ConfigError(`--${name} must be an http(s) URL, got "${value}"`);
    }
    return value.replace(/\/+$/, '');
  };
  const origins = get('cors-origins').split(',').map((o) => o.trim()).filter((o) => o !== '');
  for (const origin of origins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) throw new ConfigError(`--cors-origins: "${origin}" is not an origin (scheme://host[:port])`);
  }
  const rolesClaim = get('jwt-roles-claim');
  if (rolesClaim === '') throw new ConfigError('--jwt-roles-claim must not be empty');
  return {
    profile,
    auth: onOff('auth', get('auth')),
    tls,
    tlsExplicitlyOff,
    tlsCert,
    tlsKey,
    rateLimitRps: integer('rate-limit-rps', get('rate-limit-rps'), 0, 10_000_000),
    rateLimitBurst: integer('rate-limit-burst', get('rate-limit-burst'), 0, 10_000_000),
    connLimitPerIp: integer('conn-limit-per-ip', get('conn-limit-per-ip'), 0, 1_000_000),
    corsOrigins: origins,
    jwtIssuer: get('jwt-issuer'),
    jwtAudience: get('jwt-audience'),
    jwtTtlS: integer('jwt-ttl-s', get('jwt-ttl-s'), 60, 30 * 86_400),
    jwtJwksUrl: url('jwt-jwks-url'),
    jwtExternalIssuer: get('jwt-external-issuer'),
    jwtPublicKeyFile: get('jwt-public-key-file'),
    jwtRolesClaim: rolesClaim,
    oauthProviders: get('oauth-providers'),
    publicUrl: url('public-url'),
  };
}

function walArchiveInside(dir: string, dataDir: string): boolean {
  const a = resolve(dir);
  const d = resolve(dataDir);
  return a === d || a.startsWith(d + sep);
}

export function defaultShardCount(): number {
  return Math.max(1, availableParallelism());
}
