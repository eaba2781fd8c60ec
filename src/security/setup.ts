// Security at start-up: secrets (env, *_FILE, Vault), the profile's safety
// checks (prod refuses to start without auth, with a weak or default secret,
// or without TLS unless --tls off is explicit: ConfigError → exit 2), the
// auth store, the token signer/verifier, the audit log, the bootstrap admin,
// the OAuth providers, and what SIGHUP re-reads.

import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { AuditLog } from './audit.js';
import { AuthStore } from './auth-store.js';
import { clientSecretEnvVar, OAuthLogin, parseProviders, type OAuthProviderConfig } from './oidc.js';
import { SecretError, Secrets } from './secrets.js';
import { Security } from './security.js';
import { Tokens } from './tokens.js';

export const SECRET_NAMES = ['MANTIS_ADMIN_PASSWORD', 'MANTIS_JWT_SECRET', 'MANTIS_BACKUP_KEY'] as const;

/** Values no deployment should use as a password or signing secret. */
const WEAK = new Set(['admin', 'administrator', 'password', 'changeme', 'change-me', 'secret', 'mantis', 'mantisdb', 'letmein', '123456', '12345678', 'qwerty', 'default', 'test', 'example']);

export type SecurityParts = {
  readonly security: Security;
  readonly secrets: Secrets;
  readonly oauth: OAuthLogin | undefined;
  configDump(): Record<string, unknown>;
  reload(): Promise<void>;
  close(): Promise<void>;
};

export function weakSecretProblem(name: string, value: string, minLength: number): string | null {
  const lower = value.toLowerCase();
  if (value.length < minLength) return `${name} is too short (at least ${minLength} characters)`;
  if (WEAK.has(lower) || [...WEAK].some((w) => lower === `${w}${w}` || lower.replace(/[0-9!]+$/, '') === w)) return `${name} is a well-known default`;
  if (new Set(value).size < 4) return `${name} has too few distinct characters`;
  return null;
}

function oauthProviders(config: Config): OAuthProviderConfig[] {
  const raw = config.security.oauthProviders.trim();
  if (raw === '') return [];
  let text = raw;
  if (!raw.startsWith('[')) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (error) {
      throw new ConfigError(`--oauth-providers: cannot read ${raw}: ${(error as Error).message}`);
    }
  }
  try {
    return parseProviders(text);
  } catch (error) {
    throw new ConfigError(`--oauth-providers: ${(error as Error).message}`);
  }
}

export async function openSecurity(config: Config, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<SecurityParts> {
  const s = config.security;
  const providers = oauthProviders(config);
  const names = [...SECRET_NAMES, ...providers.map((p) => clientSecretEnvVar(p.name))];
  let secrets: Secrets;
  try {
    secrets = await Secrets.open({ env, log, names });
  } catch (error) {
    if (error instanceof SecretError) throw new ConfigError(error.message);
    throw error;
  }
  try {
    const problems: string[] = [];
    const adminPassword = secrets.get('MANTIS_ADMIN_PASSWORD');
    const jwtSecret = secrets.get('MANTIS_JWT_SECRET');
    if (jwtSecret !== undefined) {
      const problem = weakSecretProblem('MANTIS_JWT_SECRET', jwtSecret, 32);
      if (problem !== null && s.profile !== 'dev') problems.push(problem);
      else if (problem !== null) log.warn(`${problem}; the prod profile refuses it`);
    }
    if (s.profile === 'prod') {
      if (!s.auth) problems.push('the prod profile needs authentication (--auth on)');
      if (adminPassword === undefined) problems.push('the prod profile needs MANTIS_ADMIN_PASSWORD or MANTIS_ADMIN_PASSWORD_FILE (the bootstrap admin)');
      else {
        const problem = weakSecretProblem('MANTIS_ADMIN_PASSWORD', adminPassword, 12);
        if (problem !== null) problems.push(problem);
      }
      if (!s.tls && !s.tlsExplicitlyOff) problems.push('the prod profile needs TLS (--tls-cert and --tls-key), or an explicit --tls off');
    }
    if (problems.length > 0) throw new ConfigError(`refusing to start with profile ${s.profile}: ${problems.join('; ')}`);

    const store = await AuthStore.open(config.dataDir);
    const signing = async (): Promise<Uint8Array> => {
      const configured = secrets.get('MANTIS_JWT_SECRET');
      return configured !== undefined ? new TextEncoder().encode(configured) : store.signingSecret();
    };
    const tokens = await Tokens.create(
      {
        issuer: s.jwtIssuer,
        audience: s.jwtAudience,
        ttlS: s.jwtTtlS,
        externalIssuer: s.jwtExternalIssuer,
        jwksUrl: s.jwtJwksUrl,
        publicKeyFile: s.jwtPublicKeyFile,
        rolesClaim: s.jwtRolesClaim,
      },
      await signing(),
    ).catch((error: unknown) => {
      throw new ConfigError(`--jwt-public-key-file: ${(error as Error).message}`);
    });
    const audit = new AuditLog({ dataDir: config.dataDir, log });
    const security = new Security({
      auth: s.auth,
      tls: s.tls,
      corsOrigins: s.corsOrigins,
      limits: { rps: s.rateLimitRps, burst: s.rateLimitBurst || s.rateLimitRps, classes: {}, connectionsPerIp: s.connLimitPerIp },
      store,
      tokens,
      audit,
      log,
    });
    if (s.auth) {
      await security.bootstrap(adminPassword);
      const external = s.jwtJwksUrl !== '' || s.jwtPublicKeyFile !== '' || providers.length > 0;
      if (store.users().length === 0 && !external) {
        throw new ConfigError('authentication is on but no user exists and no outside token issuer is configured: set MANTIS_ADMIN_PASSWORD (or MANTIS_ADMIN_PASSWORD_FILE) to create the bootstrap admin');
      }
    }
    let oauth: OAuthLogin | undefined;
    if (providers.length > 0) {
      const withSecrets = providers.map((p) => {
        const secret = secrets.get(clientSecretEnvVar(p.name));
        return secret === undefined ? p : { ...p, clientSecret: secret };
      });
      try {
        oauth = new OAuthLogin(withSecrets, { publicUrl: () => publicUrlOf.value });
      } catch (error) {
        throw new ConfigError(`--oauth-providers: ${(error as Error).message}`);
      }
    }
    audit.record({ action: 'server.start', outcome: 'success', actor: 'system', details: { profile: s.profile, auth: s.auth, tls: s.tls } });
    return {
      security,
      secrets,
      oauth,
      configDump: () => dumpConfig(config, secrets, [...names]),
      reload: async () => {
        await secrets.reload();
        await tokens.reload(await signing());
        security.authenticator.clear();
        audit.record({ action: 'server.reload', outcome: 'success', actor: 'system' });
      },
      close: async () => {
        security.close();
        secrets.close();
        await audit.flushed();
      },
    };
  } catch (error) {
    secrets.close();
    throw error;
  }
}

/** Where OAuth redirect URIs point: set by the server once it listens (or --public-url). */
export const publicUrlOf = { value: '' };

function dumpConfig(config: Config, secrets: Secrets, names: readonly string[]): Record<string, unknown> {
  const secretInfo: Record<string, unknown> = {};
  for (const name of names) secretInfo[name] = secrets.get(name) === undefined ? null : { value: '***', source: secrets.source(name) };
  // Nothing in Config is a secret (they come only from env, files or Vault), but mask by value too.
  const text = secrets.redact(JSON.stringify(config));
  return { config: JSON.parse(text) as unknown, secrets: secretInfo };
}
