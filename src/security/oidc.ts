// OAuth2 / OpenID Connect login for the dashboard and the CLI (issue
// "Security", item 3), and the verifier for JWTs signed by an external issuer
// (`--jwt-jwks-url`).
//
// Login is the authorization code flow with PKCE (S256):
//   1. `start()` makes a random state, a PKCE verifier, a nonce (OIDC only) and
//      a browser-binding cookie value, keeps them server-side for 10 minutes
//      (keyed by the state; only a SHA-256 of the cookie value is kept) and
//      returns the provider's authorization URL plus the cookie to set.
//   2. The provider redirects the browser to
//      <publicUrl>/api/v1/auth/oauth/<name>/callback?code=…&state=….
//   3. `callback()` consumes the state (one use, even when it then fails),
//      checks its age and the cookie, exchanges the code (with the verifier) at
//      the token endpoint, verifies the id_token against the provider's JWKS
//      (iss, aud, exp, nonce, azp), merges userinfo and maps the roles.
//
// Providers: any OIDC provider by discovery URL (fetched lazily, cached for an
// hour, 5 s timeout; a failed refresh keeps the last good copy), the `google`
// preset (Google's discovery document) and the `github` preset (plain OAuth2:
// no discovery, no id_token; the user comes from
// api.github.com/user, subject = its numeric id).
//
// Errors shown to users are OAuthError values whose messages never contain the
// code, a token, the verifier or the client secret. The underlying failure, if
// any, is kept as `cause` for the server log.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyGetKey, RemoteJWKSetOptions } from 'jose';

export type OAuthPreset = 'github' | 'google';

export type OAuthProviderConfig = {
  /** [a-z0-9-]{1,32}; the routes are /api/v1/auth/oauth/<name>/start and /callback. */
  readonly name: string;
  readonly preset?: OAuthPreset;
  /** The provider's .well-known/openid-configuration; required unless a preset is given. */
  readonly discoveryUrl?: string;
  readonly clientId: string;
  /** Absent for public clients (PKCE only). Comes from MANTIS_OAUTH_<NAME>_CLIENT_SECRET. */
  readonly clientSecret?: string;
  /** Default ['openid', 'email', 'profile'] (github: ['read:user', 'user:email']). */
  readonly scopes?: readonly string[];
  /** Roles given to users logging in through this provider (default ['readonly']). */
  readonly roles?: readonly string[];
  /** A claim of the id_token / userinfo (a dotted path is followed into objects) holding an array of role names. */
  readonly rolesClaim?: string;
};

export type OAuthIdentity = {
  provider: string;
  /** The provider's stable user id (OIDC `sub`; GitHub's numeric `id` as a string). Key accounts by (provider, subject). */
  subject: string;
  /** A display / login name: preferred_username, else email, else subject (GitHub: login). Not unique across providers. */
  username: string;
  /** Only when the provider does not say it is unverified (OIDC email_verified !== false; GitHub: public or primary verified). */
  email?: string;
  name?: string;
  roles: string[];
  claims: Record<string, unknown>;
};

export type OAuthErrorCode = 'OAUTH_STATE' | 'OAUTH_PROVIDER' | 'OAUTH_TOKEN' | 'OAUTH_UNKNOWN_PROVIDER';

/** A login failure whose message is safe to show to the user. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  constructor(code: OAuthErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OAuthError';
    this.code = code;
  }
}

export type StateCookie = {
  readonly name: string;
  readonly value: string;
  readonly maxAgeS: number;
  /** Path attribute: the cookie is only sent to the OAuth routes. */
  readonly path: string;
  /** Whether the public URL is https (then the cookie must carry Secure). */
  readonly secure: boolean;
};

export type OAuthLoginOptions = {
  /** The public base URL (like http://127.0.0.1:PORT); redirect_uri = base + /api/v1/auth/oauth/<name>/callback. */
  readonly publicUrl: (requestOrigin?: string) => string;
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (state expiry and id_token time checks). */
  readonly now?: () => number;
};

export const OAUTH_ROUTE_PREFIX = '/api/v1/auth/oauth';
export const OAUTH_STATE_COOKIE = 'mantis_oauth_state';
export const OAUTH_STATE_TTL_MS = 10 * 60_000;

const PROVIDER_NAME = /^[a-z0-9-]{1,32}$/;
const DEFAULT_RETURN_TO = '/admin';
const DISCOVERY_TIMEOUT_MS = 5_000;
const DISCOVERY_TTL_MS = 60 * 60_000;
const DISCOVERY_RETRY_MS = 60_000;
const HTTP_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 1 << 20;
/** Pending logins kept at most; beyond it the oldest is dropped (bounds memory under /start floods). */
const MAX_PENDING = 10_000;
const ID_TOKEN_CLOCK_TOLERANCE_S = 30;
const ID_TOKEN_ALGORITHMS: readonly string[] = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
];
const DEFAULT_OIDC_SCOPES: readonly string[] = ['openid', 'email', 'profile'];
const DEFAULT_GITHUB_SCOPES: readonly string[] = ['read:user', 'user:email'];
const DEFAULT_ROLES: readonly string[] = ['readonly'];
const WELL_KNOWN = '/.well-known/openid-configuration';
const GOOGLE_DISCOVERY = 'https://accounts.google.com/.well-known/openid-configuration';
const GITHUB = {
  authorize: 'https://github.com/login/oauth/authorize',
  token: 'https://github.com/login/oauth/access_token',
  user: 'https://api.github.com/user',
  emails: 'https://api.github.com/user/emails',
} as const;
const USER_AGENT = 'MantisDB';

// ---------------------------------------------------------------------------
// Configuration

/** The environment variable holding a provider's client secret: MANTIS_OAUTH_<NAME upper, - → _>_CLIENT_SECRET. */
export function clientSecretEnvVar(providerName: string): string {
  return `MANTIS_OAUTH_${providerName.toUpperCase().replaceAll('-', '_')}_CLIENT_SECRET`;
}

/** Adds each provider's client secret from the environment (an empty value counts as absent). */
export function withClientSecrets(
  providers: readonly OAuthProviderConfig[],
  env: Readonly<Record<string, string | undefined>>,
): OAuthProviderConfig[] {
  return providers.map((provider) => {
    const secret = env[clientSecretEnvVar(provider.name)];
    return secret !== undefined && secret !== '' ? { ...provider, clientSecret: secret } : provider;
  });
}

const JSON_KEYS: Readonly<Record<string, keyof OAuthProviderConfig>> = {
  name: 'name',
  preset: 'preset',
  discovery_url: 'discoveryUrl',
  client_id: 'clientId',
  roles: 'roles',
  roles_claim: 'rolesClaim',
  scopes: 'scopes',
};

/**
 * Parses the --oauth-providers value: a JSON array of objects with the keys
 * name, preset, discovery_url, client_id, roles, roles_claim, scopes. Client
 * secrets are not accepted here (see clientSecretEnvVar / withClientSecrets).
 */
export function parseProviders(json: string): OAuthProviderConfig[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`--oauth-providers is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error('--oauth-providers must be a JSON array of provider objects');
  const providers: OAuthProviderConfig[] = [];
  const seen = new Set<string>();
  parsed.forEach((item: unknown, index) => {
    const where = `--oauth-providers[${index}]`;
    if (!isPlainObject(item)) throw new Error(`${where} must be an object`);
    const label = typeof item.name === 'string' ? `${where} ("${item.name}")` : where;
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(item)) {
      if (key === 'client_secret' || key === 'clientSecret') {
        const envName = typeof item.name === 'string' ? clientSecretEnvVar(item.name) : 'MANTIS_OAUTH_<NAME>_CLIENT_SECRET';
        throw new Error(`${label}: client secrets do not belong in --oauth-providers; set ${envName} instead`);
      }
      const field = JSON_KEYS[key];
      if (field === undefined) {
        throw new Error(`${label}: unknown key "${key}" (allowed: ${Object.keys(JSON_KEYS).join(', ')})`);
      }
      config[field] = value;
    }
    let provider: OAuthProviderConfig;
    try {
      provider = validateProvider(config, false);
    } catch (error) {
      throw new Error(`${label}: ${(error as Error).message}`);
    }
    if (seen.has(provider.name)) throw new Error(`${label}: duplicate provider name "${provider.name}"`);
    seen.add(provider.name);
    providers.push(provider);
  });
  return providers;
}

/** Checks one provider's settings and returns a clean copy; throws an Error naming the bad field. */
function validateProvider(raw: Readonly<Record<string, unknown>>, secretsKnown: boolean): OAuthProviderConfig {
  const { name, preset, discoveryUrl, clientId, clientSecret, scopes, roles, rolesClaim } = raw;
  if (typeof name !== 'string' || !PROVIDER_NAME.test(name)) {
    throw new Error('name must be 1 to 32 characters of a-z, 0-9 and -');
  }
  if (preset !== undefined && preset !== 'github' && preset !== 'google') {
    throw new Error('preset must be "github" or "google"');
  }
  if (typeof clientId !== 'string' || clientId === '' || clientId.length > 512 || hasControl(clientId)) {
    throw new Error('client_id must be a non-empty string');
  }
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === '')) {
    throw new Error('the client secret must be a non-empty string');
  }
  if (preset !== undefined) {
    if (discoveryUrl !== undefined) throw new Error(`preset "${preset}" sets its own endpoints; remove discovery_url`);
  } else {
    if (typeof discoveryUrl !== 'string') throw new Error('discovery_url is required unless a preset is given');
    checkEndpointUrl(discoveryUrl, 'discovery_url');
  }
  const scopeList = optionalStrings(scopes, 'scopes');
  if (scopeList !== undefined) {
    if (scopeList.length === 0) throw new Error('scopes must not be empty');
    for (const scope of scopeList) {
      if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope)) throw new Error(`scope "${scope}" is not a valid OAuth scope token`);
    }
    if (preset !== 'github' && !scopeList.includes('openid')) {
      throw new Error('scopes must include "openid" for an OpenID Connect provider');
    }
  }
  const roleList = optionalStrings(roles, 'roles');
  if (roleList !== undefined) {
    for (const role of roleList) {
      if (role === '' || role.length > 64 || hasControl(role)) throw new Error(`role "${role}" must be 1 to 64 printable characters`);
    }
  }
  if (rolesClaim !== undefined && (typeof rolesClaim !== 'string' || rolesClaim === '')) {
    throw new Error('roles_claim must be a non-empty string');
  }
  if (secretsKnown && preset === 'github' && clientSecret === undefined) {
    throw new Error(`GitHub needs a client secret (${clientSecretEnvVar(name)})`);
  }
  return {
    name,
    ...(preset !== undefined ? { preset } : {}),
    ...(typeof discoveryUrl === 'string' ? { discoveryUrl } : {}),
    clientId,
    ...(typeof clientSecret === 'string' ? { clientSecret } : {}),
    ...(scopeList !== undefined ? { scopes: scopeList } : {}),
    ...(roleList !== undefined ? { roles: roleList } : {}),
    ...(typeof rolesClaim === 'string' ? { rolesClaim } : {}),
  };
}

function optionalStrings(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new Error(`${field} must be an array of strings`);
  }
  return [...new Set(value as string[])];
}

/** https anywhere; plain http only to a loopback host (local development and tests). */
function checkEndpointUrl(value: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${field} is not a valid URL`);
  }
  if (url.username !== '' || url.password !== '') throw new Error(`${field} must not contain credentials`);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return url;
  throw new Error(`${field} must be an https URL (plain http is allowed only for localhost)`);
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

// ---------------------------------------------------------------------------
// Login

type Provider = {
  readonly config: OAuthProviderConfig;
  readonly kind: 'oidc' | 'github';
  readonly discoveryUrl: string | undefined;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
};

type OidcEndpoints = {
  readonly kind: 'oidc';
  readonly issuer: string;
  readonly authorization: string;
  readonly token: string;
  readonly userinfo: string | undefined;
  readonly jwksUri: string;
  readonly jwks: JWTVerifyGetKey;
  readonly authMethods: readonly string[];
  readonly algorithms: string[];
  readonly fetchedAt: number;
};

type GithubEndpoints = { readonly kind: 'github'; readonly authorization: string; readonly token: string };

type Endpoints = OidcEndpoints | GithubEndpoints;

type Pending = {
  readonly provider: string;
  readonly verifier: string;
  readonly nonce: string | undefined;
  readonly returnTo: string;
  readonly redirectUri: string;
  /** SHA-256 of the cookie value. */
  readonly binding: Buffer;
  readonly expiresAt: number;
};

type TokenSet = { readonly accessToken: string; readonly idToken: string | undefined };

export class OAuthLogin {
  private readonly providers = new Map<string, Provider>();
  private readonly publicUrl: (requestOrigin?: string) => string;
  private readonly fetchImpl: typeof fetch;
  private readonly customFetch: boolean;
  private readonly now: () => number;
  private readonly pending = new Map<string, Pending>();
  private readonly discovered = new Map<string, OidcEndpoints>();
  private readonly discovering = new Map<string, Promise<OidcEndpoints>>();

  constructor(providers: readonly OAuthProviderConfig[], options: OAuthLoginOptions) {
    for (const raw of providers) {
      let config: OAuthProviderConfig;
      try {
        config = validateProvider(raw, true);
      } catch (error) {
        throw new Error(`OAuth provider "${String(raw.name)}": ${(error as Error).message}`);
      }
      if (this.providers.has(config.name)) throw new Error(`OAuth provider "${config.name}" is configured twice`);
      const github = config.preset === 'github';
      this.providers.set(config.name, {
        config,
        kind: github ? 'github' : 'oidc',
        discoveryUrl: github ? undefined : (config.discoveryUrl ?? GOOGLE_DISCOVERY),
        scopes: config.scopes ?? (github ? DEFAULT_GITHUB_SCOPES : DEFAULT_OIDC_SCOPES),
        roles: config.roles ?? DEFAULT_ROLES,
      });
    }
    this.publicUrl = options.publicUrl;
    this.fetchImpl = options.fetch ?? fetch;
    this.customFetch = options.fetch !== undefined;
    this.now = options.now ?? Date.now;
  }

  has(provider: string): boolean {
    return this.providers.has(provider);
  }

  names(): string[] {
    return [...this.providers.keys()];
  }

  /**
   * The provider's authorization URL and the state cookie to set on the
   * redirect. `requestOrigin` is passed to options.publicUrl (extension: lets
   * the caller build the redirect_uri from the request's origin).
   */
  async start(
    provider: string,
    returnTo?: string,
    requestOrigin?: string,
  ): Promise<{ location: string; stateCookie: StateCookie }> {
    const p = this.provider(provider);
    const endpoints = await this.endpoints(p);
    const base = normalizeBase(this.publicUrl(requestOrigin));
    const redirectUri = `${base}${OAUTH_ROUTE_PREFIX}/${p.config.name}/callback`;
    const state = randomToken();
    const verifier = randomToken();
    const nonce = p.kind === 'oidc' ? randomToken() : undefined;
    const cookieValue = randomToken();
    const now = this.now();
    this.prune(now);
    this.pending.set(state, {
      provider: p.config.name,
      verifier,
      nonce,
      returnTo: safeReturnTo(returnTo),
      redirectUri,
      binding: sha256(cookieValue),
      expiresAt: now + OAUTH_STATE_TTL_MS,
    });

    const url = new URL(endpoints.authorization);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', p.config.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('scope', p.scopes.join(' '));
    url.searchParams.set('state', state);
    if (nonce !== undefined) url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', base64url(sha256(verifier)));
    url.searchParams.set('code_challenge_method', 'S256');
    return {
      location: url.href,
      stateCookie: {
        name: OAUTH_STATE_COOKIE,
        value: cookieValue,
        maxAgeS: OAUTH_STATE_TTL_MS / 1000,
        path: OAUTH_ROUTE_PREFIX,
        secure: base.startsWith('https:'),
      },
    };
  }

  async callback(
    provider: string,
    query: URLSearchParams,
    cookieValue: string | undefined,
  ): Promise<{ identity: OAuthIdentity; returnTo: string }> {
    const p = this.provider(provider);
    const entry = this.takeState(p, query, cookieValue);

    const error = single(query, 'error');
    if (error !== undefined) {
      const code = /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? error : 'unknown error';
      throw new OAuthError('OAUTH_PROVIDER', `the provider refused the login (${code})`);
    }
    const endpoints = await this.endpoints(p);
    const iss = single(query, 'iss');
    if (endpoints.kind === 'oidc' && iss !== undefined && !sameIssuer(iss, endpoints.issuer)) {
      // RFC 9207: the response came from a different issuer (mix-up attack).
      throw new OAuthError('OAUTH_PROVIDER', 'the login response names a different issuer');
    }
    const code = single(query, 'code');
    if (code === undefined || code === '') {
      throw new OAuthError('OAUTH_PROVIDER', 'the provider returned no authorization code');
    }
    const tokens = await this.exchange(p, endpoints, code, entry);
    const identity = endpoints.kind === 'oidc'
      ? await this.oidcIdentity(p, endpoints, tokens, entry)
      : await this.githubIdentity(p, tokens);
    return { identity, returnTo: entry.returnTo };
  }

  // -- state -----------------------------------------------------------------

  private provider(name: string): Provider {
    const p = this.providers.get(name);
    if (p === undefined) throw new OAuthError('OAUTH_UNKNOWN_PROVIDER', `no OAuth provider named "${name.slice(0, 64)}" is configured`);
    return p;
  }

  /** Consumes the state: whatever happens next, it cannot be used again. */
  private takeState(p: Provider, query: URLSearchParams, cookieValue: string | undefined): Pending {
    const state = single(query, 'state');
    if (state === undefined || state === '') {
      throw new OAuthError('OAUTH_STATE', 'the login response carries no state; start the login again');
    }
    const entry = this.pending.get(state);
    if (entry === undefined) {
      throw new OAuthError('OAUTH_STATE', 'this login is unknown or was already used; start the login again');
    }
    this.pending.delete(state);
    if (this.now() >= entry.expiresAt) {
      throw new OAuthError('OAUTH_STATE', 'this login took longer than 10 minutes; start the login again');
    }
    if (entry.provider !== p.config.name) {
      throw new OAuthError('OAUTH_STATE', 'this login was started with another provider; start the login again');
    }
    if (cookieValue === undefined || cookieValue === '') {
      throw new OAuthError('OAUTH_STATE', 'the login cookie is missing (blocked cookies, or another browser?); start the login again');
    }
    if (!timingSafeEqual(sha256(cookieValue), entry.binding)) {
      throw new OAuthError('OAUTH_STATE', 'the login cookie does not match this login; start the login again');
    }
    return entry;
  }

  private prune(now: number): void {
    // Entries are inserted with the same TTL, so insertion order is expiry order.
    for (const [state, entry] of this.pending) {
      if (entry.expiresAt > now) break;
      this.pending.delete(state);
    }
    // Map iteration is insertion order: drop the oldest while over the bound.
    for (const state of this.pending.keys()) {
      if (this.pending.size < MAX_PENDING) break;
      this.pending.delete(state);
    }
  }

  // -- endpoints -------------------------------------------------------------

  private async endpoints(p: Provider): Promise<Endpoints> {
    if (p.kind === 'github') return { kind: 'github', authorization: GITHUB.authorize, token: GITHUB.token };
    const cached = this.discovered.get(p.config.name);
    if (cached !== undefined && this.now() - cached.fetchedAt < DISCOVERY_TTL_MS) return cached;
    let inFlight = this.discovering.get(p.config.name);
    if (inFlight === undefined) {
      inFlight = this.discover(p, cached)
        .catch((error: unknown) => {
          if (cached === undefined) throw error;
          // A refresh failed: keep the last good document and try again in a minute.
          const kept: OidcEndpoints = { ...cached, fetchedAt: this.now() - DISCOVERY_TTL_MS + DISCOVERY_RETRY_MS };
          this.discovered.set(p.config.name, kept);
          return kept;
        })
        .finally(() => this.discovering.delete(p.config.name));
      this.discovering.set(p.config.name, inFlight);
    }
    return inFlight;
  }

  private async discover(p: Provider, previous: OidcEndpoints | undefined): Promise<OidcEndpoints> {
    const discoveryUrl = p.discoveryUrl as string;
    let response: JsonResponse;
    try {
      response = await fetchJson(this.fetchImpl, discoveryUrl, { headers: { Accept: 'application/json' } }, DISCOVERY_TIMEOUT_MS);
    } catch (cause) {
      throw new OAuthError('OAUTH_PROVIDER', `could not fetch the discovery document of "${p.config.name}"`, { cause });
    }
    const doc = response.json;
    if (!response.ok || !isPlainObject(doc)) {
      throw new OAuthError('OAUTH_PROVIDER', `the discovery document of "${p.config.name}" is unavailable (HTTP ${response.status})`);
    }
    const fail = (what: string): never => {
      throw new OAuthError('OAUTH_PROVIDER', `the discovery document of "${p.config.name}" is unusable: ${what}`);
    };
    const issuer = doc.issuer;
    if (typeof issuer !== 'string' || issuer === '') return fail('no issuer');
    if (discoveryUrl.endsWith(WELL_KNOWN) && !sameIssuer(issuer, discoveryUrl.slice(0, -WELL_KNOWN.length))) {
      return fail('its issuer does not match the discovery URL');
    }
    const endpoint = (key: string, required: boolean): string | undefined => {
      const value = doc[key];
      if (value === undefined && !required) return undefined;
      if (typeof value !== 'string') return fail(`no ${key}`);
      try {
        return checkEndpointUrl(value, key).href;
      } catch (error) {
        return fail((error as Error).message);
      }
    };
    const authorization = endpoint('authorization_endpoint', true) as string;
    const token = endpoint('token_endpoint', true) as string;
    const jwksUri = endpoint('jwks_uri', true) as string;
    const userinfo = endpoint('userinfo_endpoint', false);
    const pkce = doc.code_challenge_methods_supported;
    if (Array.isArray(pkce) && !pkce.includes('S256')) return fail('it does not support PKCE with S256');
    const advertisedAlgs = stringArray(doc.id_token_signing_alg_values_supported) ?? ['RS256'];
    const algorithms = advertisedAlgs.filter((alg) => ID_TOKEN_ALGORITHMS.includes(alg));
    if (algorithms.length === 0) return fail('no supported id_token signing algorithm');
    const authMethods = stringArray(doc.token_endpoint_auth_methods_supported) ?? ['client_secret_basic'];
    const jwks = previous !== undefined && previous.jwksUri === jwksUri ? previous.jwks : this.remoteJwks(jwksUri);
    const endpoints: OidcEndpoints = {
      kind: 'oidc', issuer, authorization, token, userinfo, jwksUri, jwks, authMethods, algorithms, fetchedAt: this.now(),
    };
    this.discovered.set(p.config.name, endpoints);
    return endpoints;
  }

  private remoteJwks(jwksUri: string): JWTVerifyGetKey {
    const options: RemoteJWKSetOptions = { timeoutDuration: DISCOVERY_TIMEOUT_MS };
    if (this.customFetch) options[customFetch] = this.fetchImpl;
    return createRemoteJWKSet(new URL(jwksUri), options);
  }

  // -- code exchange -----------------------------------------------------------

  private async exchange(p: Provider, endpoints: Endpoints, code: string, entry: Pending): Promise<TokenSet> {
    const { clientId, clientSecret } = p.config;
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: entry.redirectUri,
      code_verifier: entry.verifier,
    });
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
    };
    switch (tokenAuthMethod(endpoints, clientSecret)) {
      case 'client_secret_basic':
        // RFC 6749 §2.3.1: both parts are form-encoded before base64.
        headers.Authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret as string)}`).toString('base64')}`;
        break;
      case 'client_secret_post':
        body.set('client_id', clientId);
        body.set('client_secret', clientSecret as string);
        break;
      case 'none':
        body.set('client_id', clientId);
        break;
    }
    let response: JsonResponse;
    try {
      response = await fetchJson(this.fetchImpl, endpoints.token, { method: 'POST', headers, body, redirect: 'error' }, HTTP_TIMEOUT_MS);
    } catch (cause) {
      throw new OAuthError('OAUTH_TOKEN', `could not reach the token endpoint of "${p.config.name}"`, { cause });
    }
    const json = response.json;
    const error = isPlainObject(json) ? json.error : undefined;
    if (!response.ok || error !== undefined) {
      // GitHub answers errors with 200 and an "error" field.
      const reason = typeof error === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(error) ? error : `HTTP ${response.status}`;
      throw new OAuthError('OAUTH_TOKEN', `the provider refused the authorization code (${reason}); start the login again`);
    }
    if (!isPlainObject(json) || typeof json.access_token !== 'string' || json.access_token === '') {
      throw new OAuthError('OAUTH_TOKEN', 'the token endpoint returned no access token');
    }
    if (json.token_type !== undefined && (typeof json.token_type !== 'string' || json.token_type.toLowerCase() !== 'bearer')) {
      throw new OAuthError('OAUTH_TOKEN', 'the token endpoint returned a token type other than Bearer');
    }
    const idToken = typeof json.id_token === 'string' && json.id_token !== '' ? json.id_token : undefined;
    if (endpoints.kind === 'oidc' && idToken === undefined) {
      throw new OAuthError('OAUTH_TOKEN', 'the token endpoint returned no id_token');
    }
    return { accessToken: json.access_token, idToken };
  }

  // -- identities --------------------------------------------------------------

  private async oidcIdentity(p: Provider, endpoints: OidcEndpoints, tokens: TokenSet, entry: Pending): Promise<OAuthIdentity> {
    const { clientId, rolesClaim } = p.config;
    let idClaims: JWTPayload;
    try {
      ({ payload: idClaims } = await jwtVerify(tokens.idToken as string, endpoints.jwks, {
        issuer: endpoints.issuer,
        audience: clientId,
        algorithms: endpoints.algorithms,
        currentDate: new Date(this.now()),
        clockTolerance: ID_TOKEN_CLOCK_TOLERANCE_S,
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (cause) {
      if (cause instanceof joseErrors.JOSEError && !(cause instanceof joseErrors.JWKSTimeout)) {
        throw new OAuthError('OAUTH_TOKEN', `the id_token failed verification: ${cause.message}`, { cause });
      }
      throw new OAuthError('OAUTH_PROVIDER', `could not fetch the signing keys of "${p.config.name}"`, { cause });
    }
    if (idClaims.nonce !== entry.nonce) {
      throw new OAuthError('OAUTH_TOKEN', 'the id_token failed verification: its nonce does not belong to this login');
    }
    if (Array.isArray(idClaims.aud) && idClaims.aud.length > 1 && idClaims.azp === undefined) {
      throw new OAuthError('OAUTH_TOKEN', 'the id_token failed verification: several audiences and no azp claim');
    }
    if (idClaims.azp !== undefined && idClaims.azp !== clientId) {
      throw new OAuthError('OAUTH_TOKEN', 'the id_token failed verification: it was issued to another client (azp)');
    }
    const subject = idClaims.sub;
    if (typeof subject !== 'string' || subject === '') {
      throw new OAuthError('OAUTH_TOKEN', 'the id_token failed verification: empty sub claim');
    }

    // Userinfo adds claims the id_token may lack. It is optional unless the
    // roles claim is configured and absent from the id_token: then a failure
    // would silently give the default roles, so it is an error instead.
    let userinfo: Record<string, unknown> = {};
    if (endpoints.userinfo !== undefined) {
      const required = rolesClaim !== undefined && lookupClaim(idClaims, rolesClaim) === undefined;
      const fetched = await this.userinfo(p, endpoints.userinfo, tokens.accessToken, required);
      if (fetched !== undefined) {
        if (fetched.sub !== subject) {
          throw new OAuthError('OAUTH_PROVIDER', 'the userinfo answer is about another user than the id_token');
        }
        userinfo = fetched;
      }
    }
    const claims: Record<string, unknown> = { ...userinfo, ...idClaims };
    const email = typeof claims.email === 'string' && claims.email !== '' && claims.email_verified !== false && claims.email_verified !== 'false'
      ? claims.email
      : undefined;
    const preferred = typeof claims.preferred_username === 'string' && claims.preferred_username !== '' ? claims.preferred_username : undefined;
    const name = typeof claims.name === 'string' && claims.name !== '' ? claims.name : undefined;
    return {
      provider: p.config.name,
      subject,
      username: preferred ?? email ?? subject,
      ...(email !== undefined ? { email } : {}),
      ...(name !== undefined ? { name } : {}),
      roles: rolesOf(p, claims),
      claims,
    };
  }

  private async userinfo(p: Provider, url: string, accessToken: string, required: boolean): Promise<Record<string, unknown> | undefined> {
    let response: JsonResponse | undefined;
    let cause: unknown;
    try {
      response = await fetchJson(this.fetchImpl, url, {
        headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json', 'User-Agent': USER_AGENT },
      }, HTTP_TIMEOUT_MS);
    } catch (error) {
      cause = error;
    }
    if (response !== undefined && response.ok && isPlainObject(response.json)) return response.json;
    if (!required) return undefined;
    throw new OAuthError('OAUTH_PROVIDER', `could not read the userinfo of "${p.config.name}" (needed for its roles claim)`, { cause });
  }

  private async githubIdentity(p: Provider, tokens: TokenSet): Promise<OAuthIdentity> {
    const headers = {
      Authorization: `Bearer ${tokens.accessToken}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
      'User-Agent': USER_AGENT,
    };
    let response: JsonResponse;
    try {
      response = await fetchJson(this.fetchImpl, GITHUB.user, { headers }, HTTP_TIMEOUT_MS);
    } catch (cause) {
      throw new OAuthError('OAUTH_PROVIDER', 'could not reach the GitHub API', { cause });
    }
    const user = response.json;
    if (!response.ok || !isPlainObject(user)) {
      throw new OAuthError('OAUTH_PROVIDER', `could not read the GitHub user (HTTP ${response.status})`);
    }
    const { id, login } = user;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || typeof login !== 'string' || login === '') {
      throw new OAuthError('OAUTH_PROVIDER', 'the GitHub user has no numeric id or login');
    }
    let email = typeof user.email === 'string' && user.email !== '' ? user.email : undefined;
    if (email === undefined) email = await this.githubPrimaryEmail(headers);
    const name = typeof user.name === 'string' && user.name !== '' ? user.name : undefined;
    const subject = String(id);
    const claims: Record<string, unknown> = { sub: subject, id, login };
    for (const key of ['name', 'avatar_url', 'html_url', 'type'] as const) {
      if (typeof user[key] === 'string') claims[key] = user[key];
    }
    if (email !== undefined) claims.email = email;
    return {
      provider: p.config.name,
      subject,
      username: login,
      ...(email !== undefined ? { email } : {}),
      ...(name !== undefined ? { name } : {}),
      roles: rolesOf(p, { ...user, ...claims }),
      claims,
    };
  }

  /** The primary verified address (needs the user:email scope); undefined when unavailable. */
  private async githubPrimaryEmail(headers: Record<string, string>): Promise<string | undefined> {
    try {
      const response = await fetchJson(this.fetchImpl, GITHUB.emails, { headers }, HTTP_TIMEOUT_MS);
      if (!response.ok || !Array.isArray(response.json)) return undefined;
      for (const item of response.json as unknown[]) {
        if (isPlainObject(item) && item.primary === true && item.verified === true && typeof item.email === 'string') return item.email;
      }
    } catch {
      // The address is optional: the login goes on without it.
    }
    return undefined;
  }
}

function tokenAuthMethod(endpoints: Endpoints, clientSecret: string | undefined): 'client_secret_basic' | 'client_secret_post' | 'none' {
  if (clientSecret === undefined) return 'none';
  if (endpoints.kind === 'github') return 'client_secret_post';
  if (endpoints.authMethods.includes('client_secret_basic')) return 'client_secret_basic';
  if (endpoints.authMethods.includes('client_secret_post')) return 'client_secret_post';
  // The provider authenticates no client at its token endpoint: PKCE alone.
  return 'none';
}

function rolesOf(p: Provider, claims: Readonly<Record<string, unknown>>): string[] {
  const claimName = p.config.rolesClaim;
  if (claimName === undefined) return [...p.roles];
  const value = lookupClaim(claims, claimName);
  if (value === undefined) return [...p.roles];
  if (!Array.isArray(value) || !value.every((role) => typeof role === 'string')) {
    throw new OAuthError('OAUTH_PROVIDER', `the roles claim "${claimName}" is not an array of strings`);
  }
  return [...new Set(value as string[])].filter((role) => role !== '');
}

/** A claim by exact name, else by dotted path through objects (e.g. "realm_access.roles"). */
function lookupClaim(claims: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (!isPlainObject(value) || !Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return value;
}

// ---------------------------------------------------------------------------
// Cookies and redirects

/** The Set-Cookie value for the state cookie: HttpOnly, SameSite=Lax (it must ride the provider's top-level redirect back). */
export function stateCookieHeader(cookie: StateCookie): string {
  return `${cookie.name}=${cookie.value}; Path=${cookie.path}; Max-Age=${cookie.maxAgeS}; HttpOnly; SameSite=Lax${cookie.secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that deletes the state cookie (send it with the callback's answer). */
export function clearedStateCookieHeader(secure: boolean): string {
  return `${OAUTH_STATE_COOKIE}=; Path=${OAUTH_ROUTE_PREFIX}; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** One cookie's value from a Cookie request header (the first one of that name). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A same-origin relative path ("/x", not "//x" or "/\x"), else '/admin'. */
export function safeReturnTo(returnTo: string | undefined): string {
  if (returnTo === undefined || returnTo.length > 2048) return DEFAULT_RETURN_TO;
  if (!returnTo.startsWith('/') || returnTo.startsWith('//') || returnTo.startsWith('/\\')) return DEFAULT_RETURN_TO;
  if (hasControl(returnTo)) return DEFAULT_RETURN_TO;
  try {
    const probe = new URL(returnTo, 'http://mantis.invalid');
    if (probe.origin !== 'http://mantis.invalid') return DEFAULT_RETURN_TO;
  } catch {
    return DEFAULT_RETURN_TO;
  }
  return returnTo;
}

function normalizeBase(value: string): string {
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`publicUrl must be http(s), got ${url.protocol}`);
  if (url.search !== '' || url.hash !== '') throw new Error('publicUrl must not have a query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

// ---------------------------------------------------------------------------
// External JWTs (--jwt-jwks-url)

export type ExternalVerifierOptions = {
  /** https (http only to a loopback host). */
  readonly jwksUrl: string;
  readonly issuer: string | readonly string[];
  readonly audience: string | readonly string[];
  /** For tests and proxies; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
};

/**
 * Verifies JWTs signed by an external issuer whose keys are published as a
 * JWKS: iss, aud, exp (required), nbf; RS256 / ES256 / EdDSA; 5 s clock
 * tolerance. The key set is cached for 10 minutes and refetched at most every
 * 30 s when a token names an unknown kid, so a key rotation at the issuer is
 * picked up without a restart. Failures are jose errors (answer 401).
 */
export function createExternalVerifier(options: ExternalVerifierOptions): (token: string) => Promise<JWTPayload> {
  const url = checkEndpointUrl(options.jwksUrl, 'jwksUrl');
  const jwksOptions: RemoteJWKSetOptions = { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 };
  if (options.fetch !== undefined) jwksOptions[customFetch] = options.fetch;
  const jwks = createRemoteJWKSet(url, jwksOptions);
  const issuer = typeof options.issuer === 'string' ? options.issuer : [...options.issuer];
  const audience = typeof options.audience === 'string' ? options.audience : [...options.audience];
  return async (token) => {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      clockTolerance: 5,
      requiredClaims: ['exp'],
    });
    return payload;
  };
}

// ---------------------------------------------------------------------------
// Helpers

type JsonResponse = { readonly ok: boolean; readonly status: number; readonly json: unknown };

/** Fetches with a deadline covering the body too, reads at most 1 MiB, parses JSON (undefined when it is not JSON). */
async function fetchJson(fetchImpl: typeof fetch, url: string, init: RequestInit, timeoutMs: number): Promise<JsonResponse> {
  const response = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await readCapped(response, MAX_RESPONSE_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { ok: response.ok, status: response.status, json };
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`response larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function single(query: URLSearchParams, key: string): string | undefined {
  const values = query.getAll(key);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new OAuthError('OAUTH_STATE', `the login response repeats "${key}"; start the login again`);
  return values[0];
}

function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function randomToken(): string {
  return base64url(randomBytes(32));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** application/x-www-form-urlencoded encoding of one value. */
function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1);
}
