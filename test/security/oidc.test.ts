// OAuth2/OIDC login (src/security/oidc.ts) against a real oauth2-mock-server:
// the test plays the browser (start → GET the authorization URL → read the
// redirect → callback), and the mock's hooks set claims and tamper with tokens.
// Also: the GitHub and Google presets (with a scripted fetch), parseProviders,
// and key rotation for external JWTs through jose's remote JWKS.

import { createHash } from 'node:crypto';
import { IncomingMessage } from 'node:http';
import { OAuth2Server } from 'oauth2-mock-server';
import type { MutableRedirectUri, MutableResponse, MutableToken } from 'oauth2-mock-server';
import { SignJWT, errors as joseErrors } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  OAUTH_STATE_COOKIE,
  OAuthError,
  OAuthLogin,
  clearedStateCookieHeader,
  clientSecretEnvVar,
  createExternalVerifier,
  parseProviders,
  readCookie,
  safeReturnTo,
  stateCookieHeader,
  withClientSecrets,
  type OAuthProviderConfig,
} from '../../src/security/oidc.js';

const PUBLIC = 'http://127.0.0.1:7311';
const CLIENT_ID = 'mantis-dashboard';
const SECRET = 'sup3r-s3cret-value';

type TokenRequest = IncomingMessage & { body: Record<string, unknown> };

let server: OAuth2Server;
let issuer: string;
let discoveryUrl: string;

beforeAll(async () => {
  server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  await server.start(0, '127.0.0.1');
  issuer = server.issuer.url as string;
  discoveryUrl = `${issuer}/.well-known/openid-configuration`;
});

afterAll(async () => {
  await server.stop();
});

afterEach(() => {
  for (const event of ['beforeTokenSigning', 'beforeUserinfo', 'beforeResponse', 'beforeAuthorizeRedirect']) {
    server.service.removeAllListeners(event);
  }
});

function provider(extra: Partial<OAuthProviderConfig> = {}): OAuthProviderConfig {
  return { name: 'mock', discoveryUrl, clientId: CLIENT_ID, ...extra };
}

function login(providers: OAuthProviderConfig[], extra: { fetch?: typeof fetch; now?: () => number } = {}): OAuthLogin {
  return new OAuthLogin(providers, { publicUrl: () => PUBLIC, ...extra });
}

/** The id_token is the token whose payload has an audience (the access token of a code grant has none). */
function isIdToken(token: MutableToken): boolean {
  return token.payload.aud !== undefined;
}

/** The user the mock logs in: claims put into the id_token and answered by userinfo. */
function asUser(idClaims: Record<string, unknown>, userinfo: Record<string, unknown> = {}): void {
  server.service.on('beforeTokenSigning', (token: MutableToken) => {
    if (isIdToken(token)) Object.assign(token.payload, idClaims);
  });
  server.service.on('beforeUserinfo', (response: MutableResponse) => {
    response.body = { sub: idClaims.sub, ...userinfo };
  });
}

/** The browser: follow the authorization URL once and return the redirect's query (the mock "logs in" at once). */
async function authorize(location: string, providerName = 'mock'): Promise<URLSearchParams> {
  const response = await fetch(location, { redirect: 'manual' });
  expect(response.status).toBe(302);
  const target = new URL(response.headers.get('location') as string);
  expect(`${target.origin}${target.pathname}`).toBe(`${PUBLIC}/api/v1/auth/oauth/${providerName}/callback`);
  return target.searchParams;
}

async function expectOAuthError(promise: Promise<unknown>, code: string, forbidden: string[] = []): Promise<OAuthError> {
  const error = await promise.then(
    () => { throw new Error('expected an OAuthError'); },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OAuthError);
  const oauthError = error as OAuthError;
  expect(oauthError.code).toBe(code);
  for (const secret of forbidden) expect(oauthError.message).not.toContain(secret);
  return oauthError;
}

function b64urlSha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** A fetch that rewrites the mock's discovery document (to advertise other client authentication methods). */
function discoveryRewriter(patch: Record<string, unknown>, seen: string[] = []): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    seen.push(url);
    const response = await fetch(input, init);
    if (url !== discoveryUrl) return response;
    const doc = (await response.json()) as Record<string, unknown>;
    return Response.json({ ...doc, ...patch });
  };
}

describe('OAuthLogin against oauth2-mock-server', () => {
  it('runs the authorization code flow with PKCE and returns the identity', async () => {
    const oauth = login([provider({ rolesClaim: 'mantis_roles' })]);
    expect(oauth.has('mock')).toBe(true);
    expect(oauth.has('nope')).toBe(false);
    expect(oauth.names()).toEqual(['mock']);

    const { location, stateCookie } = await oauth.start('mock', '/admin/tables?view=1');
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe(`${issuer}/authorize`);
    const params = url.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe(CLIENT_ID);
    expect(params.get('redirect_uri')).toBe(`${PUBLIC}/api/v1/auth/oauth/mock/callback`);
    expect(params.get('scope')).toBe('openid email profile');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stateCookie).toMatchObject({ name: OAUTH_STATE_COOKIE, maxAgeS: 600, path: '/api/v1/auth/oauth', secure: false });
    expect(stateCookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stateCookie.value).not.toBe(params.get('state'));

    const tokenRequests: TokenRequest[] = [];
    server.service.on('beforeTokenSigning', (token: MutableToken, req: TokenRequest) => {
      if (!isIdToken(token)) return;
      tokenRequests.push(req);
      Object.assign(token.payload, {
        sub: 'user-42',
        email: 'ada@example.com',
        email_verified: true,
        preferred_username: 'ada',
        mantis_roles: ['readwrite', 'admin', 'readwrite'],
      });
    });
    server.service.on('beforeUserinfo', (response: MutableResponse, req: IncomingMessage) => {
      expect(req.headers.authorization).toMatch(/^Bearer .+/);
      response.body = { sub: 'user-42', name: 'Ada Lovelace', locale: 'en' };
    });

    const query = await authorize(location);
    expect(query.get('state')).toBe(params.get('state'));
    expect(query.get('code')).toBeTruthy();
    const { identity, returnTo } = await oauth.callback('mock', query, stateCookie.value);

    // PKCE: the verifier went to the token endpoint (never in the browser's URL) and matches the challenge.
    expect(tokenRequests).toHaveLength(1);
    const body = tokenRequests[0].body;
    expect(body.grant_type).toBe('authorization_code');
    expect(body.redirect_uri).toBe(`${PUBLIC}/api/v1/auth/oauth/mock/callback`);
    expect(typeof body.code_verifier).toBe('string');
    expect(b64urlSha256(body.code_verifier as string)).toBe(params.get('code_challenge'));
    expect(location).not.toContain(body.code_verifier as string);
    // The mock advertises only "none": a public client sends its id in the body, no Authorization header.
    expect(body.client_id).toBe(CLIENT_ID);
    expect(body.client_secret).toBeUndefined();
    expect(tokenRequests[0].headers.authorization).toBeUndefined();

    expect(returnTo).toBe('/admin/tables?view=1');
    expect(identity).toMatchObject({
      provider: 'mock',
      subject: 'user-42',
      username: 'ada',
      email: 'ada@example.com',
      name: 'Ada Lovelace',
      roles: ['readwrite', 'admin'],
    });
    expect(identity.claims).toMatchObject({ iss: issuer, aud: CLIENT_ID, sub: 'user-42', locale: 'en', nonce: params.get('nonce') });
  });

  it('gives the configured roles when the roles claim is absent, and reads dotted claims from userinfo', async () => {
    const plain = login([provider({ roles: ['readonly', 'analyst'] })]);
    asUser({ sub: 'u-1' });
    let started = await plain.start('mock');
    let result = await plain.callback('mock', await authorize(started.location), started.stateCookie.value);
    expect(result.identity.roles).toEqual(['readonly', 'analyst']);
    expect(result.identity.username).toBe('u-1');
    expect(result.returnTo).toBe('/admin');

    const defaults = login([provider({ rolesClaim: 'mantis_roles' })]);
    started = await defaults.start('mock');
    result = await defaults.callback('mock', await authorize(started.location), started.stateCookie.value);
    expect(result.identity.roles).toEqual(['readonly']);

    server.service.removeAllListeners('beforeTokenSigning');
    server.service.removeAllListeners('beforeUserinfo');
    asUser({ sub: 'u-2', email: 'x@example.com', email_verified: false }, { realm_access: { roles: ['admin'] } });
    const dotted = login([provider({ rolesClaim: 'realm_access.roles' })]);
    started = await dotted.start('mock');
    result = await dotted.callback('mock', await authorize(started.location), started.stateCookie.value);
    expect(result.identity.roles).toEqual(['admin']);
    expect(result.identity.email).toBeUndefined(); // unverified addresses are not passed on
  });

  it('refuses a roles claim that is not an array of strings', async () => {
    asUser({ sub: 'u-3', mantis_roles: 'admin' });
    const oauth = login([provider({ rolesClaim: 'mantis_roles' })]);
    const { location, stateCookie } = await oauth.start('mock');
    await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_PROVIDER');
  });

  it('refuses a userinfo answer about another subject', async () => {
    asUser({ sub: 'u-4' });
    server.service.on('beforeUserinfo', (response: MutableResponse) => {
      response.body = { sub: 'someone-else' };
    });
    const oauth = login([provider()]);
    const { location, stateCookie } = await oauth.start('mock');
    await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_PROVIDER');
  });

  it('authenticates with client_secret_basic or client_secret_post as the provider advertises', async () => {
    const seen: TokenRequest[] = [];
    server.service.on('beforeTokenSigning', (token: MutableToken, req: TokenRequest) => {
      if (isIdToken(token)) seen.push(req);
    });

    const basic = login([provider({ clientSecret: SECRET })], {
      fetch: discoveryRewriter({ token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'] }),
    });
    let started = await basic.start('mock');
    let result = await basic.callback('mock', await authorize(started.location), started.stateCookie.value);
    expect(result.identity.subject).toBe('johndoe');
    const basicHeader = seen[0].headers.authorization as string;
    expect(basicHeader).toBe(`Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}`);
    expect(seen[0].body.client_secret).toBeUndefined();
    expect(result.identity.claims.aud).toBe(CLIENT_ID); // the mock takes the audience from the Basic credentials

    const post = login([provider({ clientSecret: SECRET })], {
      fetch: discoveryRewriter({ token_endpoint_auth_methods_supported: ['client_secret_post'] }),
    });
    started = await post.start('mock');
    result = await post.callback('mock', await authorize(started.location), started.stateCookie.value);
    expect(result.identity.subject).toBe('johndoe');
    expect(seen[1].headers.authorization).toBeUndefined();
    expect(seen[1].body.client_id).toBe(CLIENT_ID);
    expect(seen[1].body.client_secret).toBe(SECRET);
  });

  it('fetches the discovery document once, with a timeout signal, and verifies id_tokens through the jwks_uri', async () => {
    const seen: string[] = [];
    const signals: (AbortSignal | null | undefined)[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(input instanceof Request ? input.url : String(input));
      signals.push(init?.signal);
      return fetch(input, init);
    };
    const oauth = login([provider()], { fetch: counting });
    const [a, b] = await Promise.all([oauth.start('mock'), oauth.start('mock')]);
    expect(seen.filter((url) => url === discoveryUrl)).toHaveLength(1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(a.location).not.toBe(b.location);
    await oauth.callback('mock', await authorize(a.location), a.stateCookie.value);
    await oauth.callback('mock', await authorize(b.location), b.stateCookie.value);
    expect(seen.filter((url) => url === discoveryUrl)).toHaveLength(1);
    expect(seen.filter((url) => url === `${issuer}/jwks`)).toHaveLength(1); // jose caches the key set
    expect(seen.filter((url) => url === `${issuer}/token`)).toHaveLength(2);
  });

  it('refreshes the discovery document hourly and keeps the last good copy when a refresh fails', async () => {
    let clock = Date.now();
    let down = false;
    let discoveryFetches = 0;
    const flaky: typeof fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url === discoveryUrl) {
        discoveryFetches += 1;
        if (down) return Promise.reject(new TypeError('fetch failed'));
      }
      return fetch(input, init);
    };
    const oauth = login([provider()], { fetch: flaky, now: () => clock });
    await oauth.start('mock');
    expect(discoveryFetches).toBe(1);
    clock += 59 * 60_000;
    await oauth.start('mock');
    expect(discoveryFetches).toBe(1);

    clock += 2 * 60_000; // past the hour, and the provider is down: the old document still serves
    down = true;
    const started = await oauth.start('mock');
    expect(discoveryFetches).toBe(2);
    await oauth.start('mock');
    expect(discoveryFetches).toBe(2); // no retry within a minute
    server.service.on('beforeTokenSigning', (token: MutableToken) => {
      token.payload.exp = Math.floor(clock / 1000) + 300; // valid at the injected clock
    });
    const result = await oauth.callback('mock', await authorize(started.location), started.stateCookie.value);
    expect(result.identity.subject).toBe('johndoe');

    clock += 61_000;
    down = false;
    await oauth.start('mock');
    expect(discoveryFetches).toBe(3);

    const cold = login([provider()], { fetch: flaky });
    down = true;
    await expectOAuthError(cold.start('mock'), 'OAUTH_PROVIDER'); // nothing cached: the failure shows
  });

  it('builds the redirect_uri from publicUrl(requestOrigin) and marks the cookie Secure for https', async () => {
    const origins: (string | undefined)[] = [];
    const oauth = new OAuthLogin([provider()], {
      publicUrl: (origin) => {
        origins.push(origin);
        return 'https://db.example.com/';
      },
    });
    const { location, stateCookie } = await oauth.start('mock', undefined, 'https://db.example.com');
    expect(origins).toEqual(['https://db.example.com']);
    expect(new URL(location).searchParams.get('redirect_uri')).toBe('https://db.example.com/api/v1/auth/oauth/mock/callback');
    expect(stateCookie.secure).toBe(true);
    expect(stateCookieHeader(stateCookie)).toBe(
      `mantis_oauth_state=${stateCookie.value}; Path=/api/v1/auth/oauth; Max-Age=600; HttpOnly; SameSite=Lax; Secure`,
    );
  });

  describe('failures', () => {
    it('refuses a wrong state, and the login still works afterwards with the right one', async () => {
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      const query = await authorize(location);
      const forged = new URLSearchParams(query);
      forged.set('state', 'A'.repeat(43));
      await expectOAuthError(oauth.callback('mock', forged, stateCookie.value), 'OAUTH_STATE');
      const noState = new URLSearchParams(query);
      noState.delete('state');
      await expectOAuthError(oauth.callback('mock', noState, stateCookie.value), 'OAUTH_STATE');
      const result = await oauth.callback('mock', query, stateCookie.value);
      expect(result.identity.subject).toBe('johndoe');
    });

    it('refuses a state used twice', async () => {
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      const query = await authorize(location);
      await oauth.callback('mock', query, stateCookie.value);
      const error = await expectOAuthError(oauth.callback('mock', query, stateCookie.value), 'OAUTH_STATE');
      expect(error.message).toMatch(/already used/);
    });

    it('refuses a missing or wrong cookie, and burns the state', async () => {
      const oauth = login([provider()]);
      let started = await oauth.start('mock');
      let query = await authorize(started.location);
      const code = query.get('code') as string;
      await expectOAuthError(oauth.callback('mock', query, undefined), 'OAUTH_STATE', [code]);
      await expectOAuthError(oauth.callback('mock', query, started.stateCookie.value), 'OAUTH_STATE');

      started = await oauth.start('mock');
      query = await authorize(started.location);
      await expectOAuthError(oauth.callback('mock', query, 'x'.repeat(43)), 'OAUTH_STATE');
    });

    it('refuses an expired state', async () => {
      let clock = Date.now();
      const oauth = login([provider()], { now: () => clock });
      let started = await oauth.start('mock');
      let query = await authorize(started.location);
      clock += 10 * 60_000 + 1;
      const error = await expectOAuthError(oauth.callback('mock', query, started.stateCookie.value), 'OAUTH_STATE');
      expect(error.message).toMatch(/10 minutes/);

      started = await oauth.start('mock');
      query = await authorize(started.location);
      clock += 9 * 60_000;
      const result = await oauth.callback('mock', query, started.stateCookie.value);
      expect(result.identity.subject).toBe('johndoe');
    });

    it('refuses a state started for another provider', async () => {
      const oauth = login([provider(), provider({ name: 'other' })]);
      const { location, stateCookie } = await oauth.start('mock');
      await expectOAuthError(oauth.callback('other', await authorize(location), stateCookie.value), 'OAUTH_STATE');
    });

    it('refuses an id_token with a wrong nonce', async () => {
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) token.payload.nonce = 'not-the-nonce';
      });
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      const error = await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_TOKEN');
      expect(error.message).toMatch(/nonce/);
    });

    it('refuses an id_token without a nonce', async () => {
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) delete token.payload.nonce;
      });
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_TOKEN');
    });

    it('refuses an id_token for another audience', async () => {
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) token.payload.aud = 'someone-else';
      });
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      const error = await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_TOKEN');
      expect(error.message).toMatch(/aud/);
    });

    it('refuses an id_token with another authorized party, or several audiences and no azp', async () => {
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) token.payload.azp = 'someone-else';
      });
      const oauth = login([provider()]);
      let started = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(started.location), started.stateCookie.value), 'OAUTH_TOKEN');

      server.service.removeAllListeners('beforeTokenSigning');
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) token.payload.aud = [CLIENT_ID, 'someone-else'];
      });
      started = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(started.location), started.stateCookie.value), 'OAUTH_TOKEN');
    });

    it('refuses an id_token from another issuer or an expired one', async () => {
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) token.payload.iss = 'https://evil.example.com';
      });
      const oauth = login([provider()]);
      let started = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(started.location), started.stateCookie.value), 'OAUTH_TOKEN');

      server.service.removeAllListeners('beforeTokenSigning');
      server.service.on('beforeTokenSigning', (token: MutableToken) => {
        if (isIdToken(token)) token.payload.exp = Math.floor(Date.now() / 1000) - 120;
      });
      started = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(started.location), started.stateCookie.value), 'OAUTH_TOKEN');
    });

    it('reports a token endpoint error without leaking the code or the secret', async () => {
      server.service.on('beforeResponse', (response: MutableResponse) => {
        response.statusCode = 400;
        response.body = { error: 'invalid_grant', error_description: 'code expired' };
      });
      const oauth = login([provider({ clientSecret: SECRET })], {
        fetch: discoveryRewriter({ token_endpoint_auth_methods_supported: ['client_secret_post'] }),
      });
      const { location, stateCookie } = await oauth.start('mock');
      const query = await authorize(location);
      const error = await expectOAuthError(
        oauth.callback('mock', query, stateCookie.value),
        'OAUTH_TOKEN',
        [query.get('code') as string, SECRET, stateCookie.value],
      );
      expect(error.message).toMatch(/invalid_grant/);
    });

    it('reports a token endpoint that cannot be reached as OAUTH_TOKEN', async () => {
      const failing: typeof fetch = (input, init) => {
        const url = input instanceof Request ? input.url : String(input);
        if (url === `${issuer}/token`) return Promise.reject(new TypeError('fetch failed'));
        return fetch(input, init);
      };
      const oauth = login([provider()], { fetch: failing });
      const { location, stateCookie } = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_TOKEN');
    });

    it('reports an error the provider sent back to the redirect', async () => {
      server.service.on('beforeAuthorizeRedirect', (redirect: MutableRedirectUri) => {
        redirect.url.searchParams.delete('code');
        redirect.url.searchParams.set('error', 'access_denied');
      });
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      const error = await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_PROVIDER');
      expect(error.message).toMatch(/access_denied/);
    });

    it('refuses a response naming another issuer (RFC 9207)', async () => {
      server.service.on('beforeAuthorizeRedirect', (redirect: MutableRedirectUri) => {
        redirect.url.searchParams.set('iss', 'https://evil.example.com');
      });
      const oauth = login([provider()]);
      const { location, stateCookie } = await oauth.start('mock');
      await expectOAuthError(oauth.callback('mock', await authorize(location), stateCookie.value), 'OAUTH_PROVIDER');
    });

    it('reports unknown providers and unusable discovery documents', async () => {
      const oauth = login([provider(), provider({ name: 'broken', discoveryUrl: `${issuer}/nope/.well-known/openid-configuration` })]);
      await expectOAuthError(oauth.start('github'), 'OAUTH_UNKNOWN_PROVIDER');
      await expectOAuthError(oauth.callback('github', new URLSearchParams(), 'x'), 'OAUTH_UNKNOWN_PROVIDER');
      await expectOAuthError(oauth.start('broken'), 'OAUTH_PROVIDER');

      const mismatched = login([provider()], { fetch: discoveryRewriter({ issuer: 'https://evil.example.com' }) });
      const error = await expectOAuthError(mismatched.start('mock'), 'OAUTH_PROVIDER');
      expect(error.message).toMatch(/issuer/);

      const noS256 = login([provider()], { fetch: discoveryRewriter({ code_challenge_methods_supported: ['plain'] }) });
      await expectOAuthError(noS256.start('mock'), 'OAUTH_PROVIDER');
    });
  });
});

describe('presets', () => {
  it('logs in with GitHub (plain OAuth2, subject = numeric id, email from /user/emails)', async () => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const github: typeof fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      calls.push({ url, init });
      if (url === 'https://github.com/login/oauth/access_token') {
        const body = new URLSearchParams(init?.body as URLSearchParams);
        if (body.get('code') !== 'gh-code' || body.get('client_secret') !== SECRET) {
          return Response.json({ error: 'bad_verification_code', error_description: 'The code passed is incorrect' });
        }
        return Response.json({ access_token: 'gho_token', token_type: 'bearer', scope: 'read:user,user:email' });
      }
      if (url === 'https://api.github.com/user') {
        return Response.json({ id: 583231, login: 'octocat', name: 'The Octocat', email: null, avatar_url: 'https://a/x.png', site_admin: false });
      }
      if (url === 'https://api.github.com/user/emails') {
        return Response.json([
          { email: 'old@example.com', primary: false, verified: true },
          { email: 'octo@example.com', primary: true, verified: true },
        ]);
      }
      return new Response('not found', { status: 404 });
    };
    const oauth = login([{ name: 'github', preset: 'github', clientId: 'Iv1.abc', clientSecret: SECRET, roles: ['readwrite'] }], { fetch: github });
    const { location, stateCookie } = await oauth.start('github', '/admin/docs');
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe('https://github.com/login/oauth/authorize');
    expect(url.searchParams.get('scope')).toBe('read:user user:email');
    expect(url.searchParams.get('nonce')).toBeNull();
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(calls).toHaveLength(0); // no discovery

    const query = new URLSearchParams({ code: 'gh-code', state: url.searchParams.get('state') as string });
    const { identity, returnTo } = await oauth.callback('github', query, stateCookie.value);
    expect(returnTo).toBe('/admin/docs');
    expect(identity).toMatchObject({
      provider: 'github', subject: '583231', username: 'octocat', email: 'octo@example.com', name: 'The Octocat', roles: ['readwrite'],
    });
    expect(identity.claims).toMatchObject({ sub: '583231', id: 583231, login: 'octocat' });

    const token = calls[0];
    expect(new Headers(token.init?.headers).get('accept')).toBe('application/json');
    const tokenBody = new URLSearchParams(token.init?.body as URLSearchParams);
    expect(tokenBody.get('client_id')).toBe('Iv1.abc');
    expect(tokenBody.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b64urlSha256(tokenBody.get('code_verifier') as string)).toBe(url.searchParams.get('code_challenge'));
    expect(new Headers(calls[1].init?.headers).get('authorization')).toBe('Bearer gho_token');

    // GitHub reports a bad code with 200 and an "error" field.
    const again = await oauth.start('github');
    const badQuery = new URLSearchParams({ code: 'wrong', state: new URL(again.location).searchParams.get('state') as string });
    const error = await expectOAuthError(oauth.callback('github', badQuery, again.stateCookie.value), 'OAUTH_TOKEN', [SECRET, 'wrong']);
    expect(error.message).toMatch(/bad_verification_code/);
  });

  it('requires a client secret for GitHub', () => {
    expect(() => login([{ name: 'github', preset: 'github', clientId: 'Iv1.abc' }])).toThrow(/MANTIS_OAUTH_GITHUB_CLIENT_SECRET/);
  });

  it('uses Google\'s discovery document for the google preset', async () => {
    const google = 'https://accounts.google.com';
    const fetched: string[] = [];
    const fake: typeof fetch = async (input) => {
      const url = input instanceof Request ? input.url : String(input);
      fetched.push(url);
      return Response.json({
        issuer: google,
        authorization_endpoint: `${google}/o/oauth2/v2/auth`,
        token_endpoint: 'https://oauth2.googleapis.com/token',
        userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
        jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
        code_challenge_methods_supported: ['plain', 'S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    };
    const oauth = login([{ name: 'google', preset: 'google', clientId: 'x.apps.googleusercontent.com', clientSecret: SECRET }], { fetch: fake });
    const { location } = await oauth.start('google');
    expect(fetched).toEqual(['https://accounts.google.com/.well-known/openid-configuration']);
    const url = new URL(location);
    expect(`${url.origin}${url.pathname}`).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    expect(url.searchParams.get('scope')).toBe('openid email profile');
    expect(url.searchParams.get('nonce')).toBeTruthy();
  });
});

describe('parseProviders', () => {
  it('reads the snake_case JSON form', () => {
    const providers = parseProviders(JSON.stringify([
      { name: 'corp-sso', discovery_url: 'https://sso.example.com/.well-known/openid-configuration', client_id: 'mantis', roles: ['readwrite'], roles_claim: 'groups', scopes: ['openid', 'email', 'groups'] },
      { name: 'github', preset: 'github', client_id: 'Iv1.abc' },
      { name: 'google', preset: 'google', client_id: 'g.apps' },
    ]));
    expect(providers).toEqual([
      { name: 'corp-sso', discoveryUrl: 'https://sso.example.com/.well-known/openid-configuration', clientId: 'mantis', roles: ['readwrite'], rolesClaim: 'groups', scopes: ['openid', 'email', 'groups'] },
      { name: 'github', preset: 'github', clientId: 'Iv1.abc' },
      { name: 'google', preset: 'google', clientId: 'g.apps' },
    ]);
    expect(parseProviders('[]')).toEqual([]);
  });

  it('rejects bad input with a clear message', () => {
    const cases: [unknown, RegExp][] = [
      [{ name: 'a' }, /is not valid JSON|must be a JSON array/],
      [[1], /must be an object/],
      [[{ discovery_url: discoveryUrl, client_id: 'c' }], /name must be/],
      [[{ name: 'Bad_Name', discovery_url: discoveryUrl, client_id: 'c' }], /name must be/],
      [[{ name: 'x'.repeat(33), discovery_url: discoveryUrl, client_id: 'c' }], /name must be/],
      [[{ name: 'a', discovery_url: discoveryUrl }], /client_id/],
      [[{ name: 'a', client_id: 'c' }], /discovery_url is required/],
      [[{ name: 'a', discovery_url: 'not a url', client_id: 'c' }], /not a valid URL/],
      [[{ name: 'a', discovery_url: 'http://sso.example.com/.well-known/openid-configuration', client_id: 'c' }], /https/],
      [[{ name: 'a', preset: 'gitlab', client_id: 'c' }], /preset must be/],
      [[{ name: 'a', preset: 'github', discovery_url: discoveryUrl, client_id: 'c' }], /remove discovery_url/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', client_secret: 's' }], /MANTIS_OAUTH_A_CLIENT_SECRET/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', clientId: 'c' }], /unknown key "clientId"/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', scopes: ['email'] }], /openid/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', scopes: 'openid' }], /scopes must be an array/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', scopes: ['open id'] }], /scope/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', roles: [1] }], /roles must be an array of strings/],
      [[{ name: 'a', discovery_url: discoveryUrl, client_id: 'c', roles_claim: '' }], /roles_claim/],
      [[{ name: 'a', preset: 'google', client_id: 'c' }, { name: 'a', preset: 'github', client_id: 'd' }], /duplicate provider name "a"/],
    ];
    for (const [value, message] of cases) {
      expect(() => parseProviders(JSON.stringify(value)), JSON.stringify(value)).toThrow(message);
    }
    expect(() => parseProviders('[{')).toThrow(/--oauth-providers is not valid JSON/);
    expect(() => parseProviders('[{"name":"ok","preset":"github","client_id":"c"},{"name":"x","client_id":"c"}]'))
      .toThrow(/--oauth-providers\[1\] \("x"\): discovery_url is required/);
  });

  it('takes client secrets from the environment', () => {
    expect(clientSecretEnvVar('corp-sso')).toBe('MANTIS_OAUTH_CORP_SSO_CLIENT_SECRET');
    const providers = parseProviders('[{"name":"corp-sso","preset":"google","client_id":"c"},{"name":"pub","preset":"google","client_id":"d"}]');
    const withSecrets = withClientSecrets(providers, { MANTIS_OAUTH_CORP_SSO_CLIENT_SECRET: 's3', MANTIS_OAUTH_PUB_CLIENT_SECRET: '' });
    expect(withSecrets[0].clientSecret).toBe('s3');
    expect(withSecrets[1].clientSecret).toBeUndefined();
  });
});

describe('helpers', () => {
  it('keeps returnTo to same-origin relative paths', () => {
    expect(safeReturnTo('/admin/sql?q=1#x')).toBe('/admin/sql?q=1#x');
    expect(safeReturnTo('/')).toBe('/');
    for (const bad of [undefined, '', 'admin', '//evil.com', '/\\evil.com', 'https://evil.com/', 'javascript:alert(1)', '/a\nb', `/${'a'.repeat(3000)}`]) {
      expect(safeReturnTo(bad)).toBe('/admin');
    }
  });

  it('reads and clears the state cookie', () => {
    expect(readCookie('a=1; mantis_oauth_state=abc_-; b=2', OAUTH_STATE_COOKIE)).toBe('abc_-');
    expect(readCookie('a=1', OAUTH_STATE_COOKIE)).toBeUndefined();
    expect(readCookie(undefined, OAUTH_STATE_COOKIE)).toBeUndefined();
    expect(clearedStateCookieHeader(false)).toBe('mantis_oauth_state=; Path=/api/v1/auth/oauth; Max-Age=0; HttpOnly; SameSite=Lax');
  });
});

describe('createExternalVerifier: key rotation through jose\'s remote JWKS', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('verifies tokens of a new key once the issuer publishes it', async () => {
    // jose's cache age and refetch cooldown read Date.now(): fake only Date, so sockets and timers stay real.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const rotating = new OAuth2Server();
    const keyA = await rotating.issuer.keys.generate('RS256');
    await rotating.start(0, '127.0.0.1');
    try {
      const iss = rotating.issuer.url as string;
      const discovery = (await (await fetch(`${iss}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
      const jwksFetches: string[] = [];
      const verify = createExternalVerifier({
        jwksUrl: discovery.jwks_uri,
        issuer: iss,
        audience: 'mantis',
        fetch: (input, init) => {
          jwksFetches.push(String(input));
          return fetch(input, init);
        },
      });
      const sign = (kid: string, extra: Record<string, unknown> = {}, expiresIn = 300): Promise<string> =>
        rotating.issuer.buildToken({
          kid,
          expiresIn,
          scopesOrTransform: (_header, payload) => Object.assign(payload, { sub: 'svc-1', aud: 'mantis', ...extra }),
        });

      const tokenA = await sign(keyA.kid);
      await expect(verify(tokenA)).resolves.toMatchObject({ sub: 'svc-1', iss, aud: 'mantis' });
      expect(jwksFetches).toEqual([discovery.jwks_uri]);

      // The issuer rotates: key B is published. (oauth2-mock-server's keystore has no removal API, so key A stays listed.)
      const keyB = await rotating.issuer.keys.generate('RS256');
      const tokenB = await sign(keyB.kid);
      // Within the 30 s cooldown an unknown kid does not refetch (no refetch storms from forged kids)...
      await expect(verify(tokenB)).rejects.toBeInstanceOf(joseErrors.JWKSNoMatchingKey);
      expect(jwksFetches).toHaveLength(1);
      // ...after it, the unknown kid makes jose refetch the set, and B verifies.
      vi.setSystemTime(Date.now() + 31_000);
      const tokenB2 = await sign(keyB.kid);
      await expect(verify(tokenB2)).resolves.toMatchObject({ sub: 'svc-1' });
      expect(jwksFetches).toHaveLength(2);
      // A is still published and cached: no refetch.
      await expect(verify(tokenA)).resolves.toMatchObject({ sub: 'svc-1' });
      expect(jwksFetches).toHaveLength(2);

      // After cacheMaxAge (10 min) the set is refetched even for a known kid.
      vi.setSystemTime(Date.now() + 10 * 60_000 + 1_000);
      await expect(verify(await sign(keyA.kid))).resolves.toMatchObject({ sub: 'svc-1' });
      expect(jwksFetches).toHaveLength(3);

      // Claims: audience, issuer, expiry (5 s tolerance), exp required, allowed algorithms only.
      await expect(verify(await sign(keyB.kid, { aud: 'other' }))).rejects.toBeInstanceOf(joseErrors.JWTClaimValidationFailed);
      await expect(verify(await sign(keyB.kid, { iss: 'https://evil.example.com' }))).rejects.toBeInstanceOf(joseErrors.JWTClaimValidationFailed);
      await expect(verify(await sign(keyB.kid, {}, -3))).resolves.toMatchObject({ sub: 'svc-1' });
      await expect(verify(await sign(keyB.kid, {}, -10))).rejects.toBeInstanceOf(joseErrors.JWTExpired);
      const noExp = await rotating.issuer.buildToken({
        kid: keyB.kid,
        scopesOrTransform: (_header, payload) => {
          Object.assign(payload, { sub: 'svc-1', aud: 'mantis' });
          delete (payload as Record<string, unknown>).exp;
        },
      });
      await expect(verify(noExp)).rejects.toBeInstanceOf(joseErrors.JWTClaimValidationFailed);
      const hs256 = await new SignJWT({ sub: 'svc-1' })
        .setProtectedHeader({ alg: 'HS256', kid: keyB.kid })
        .setIssuer(iss)
        .setAudience('mantis')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
      await expect(verify(hs256)).rejects.toBeInstanceOf(joseErrors.JOSEAlgNotAllowed);
      expect(() => createExternalVerifier({ jwksUrl: 'http://keys.example.com/jwks', issuer: iss, audience: 'mantis' })).toThrow(/https/);
    } finally {
      await rotating.stop();
    }
  });
});
