// OAuth2/OIDC login end to end through the real server, against a real
// oauth2-mock-server: the test plays the browser (start → the provider's
// authorize → callback with the state cookie → session cookie → /auth/me),
// and outside tokens signed by the provider's keys are accepted through its
// JWKS, including after a key rotation.

import { OAuth2Server } from 'oauth2-mock-server';
import type { MutableResponse, MutableToken } from 'oauth2-mock-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';

const CLIENT_ID = 'mantis-dashboard';
const CLIENT_SECRET = 'oidc-client-secret-value-42';
const ADMIN_PASSWORD = 'oidc-admin-passphrase-9';

let provider: OAuth2Server;
let server: ServerProcess;

function setCookies(response: Response): string[] {
  return response.headers.getSetCookie();
}

function cookieNamed(cookies: readonly string[], name: string): string | undefined {
  const line = cookies.find((c) => c.startsWith(`${name}=`));
  return line === undefined ? undefined : decodeURIComponent(line.slice(name.length + 1).split(';')[0]);
}

beforeAll(async () => {
  provider = new OAuth2Server();
  await provider.issuer.keys.generate('RS256');
  await provider.start(0, '127.0.0.1');
  const issuer = provider.issuer.url as string;
  server = await startServer({
    shards: 1,
    extraArgs: [
      '--auth', 'on',
      '--oauth-providers', JSON.stringify([{ name: 'mock', discovery_url: `${issuer}/.well-known/openid-configuration`, client_id: CLIENT_ID, roles: ['readonly'] }]),
      '--jwt-jwks-url', `${issuer}/jwks`,
      '--jwt-external-issuer', issuer,
      '--jwt-audience', 'mantisdb',
    ],
    env: { MANTIS_ADMIN_PASSWORD: ADMIN_PASSWORD, MANTIS_OAUTH_MOCK_CLIENT_SECRET: CLIENT_SECRET },
  });
});

afterAll(async () => {
  await server?.stop();
  await provider?.stop();
  await cleanup();
});

describe('OIDC login through the server', () => {
  it('runs the authorization code flow with PKCE and signs the user in with a session cookie', async () => {
    let verifierSent: unknown;
    provider.service.on('beforeTokenSigning', (token: MutableToken, req: { body?: Record<string, unknown> }) => {
      if (token.payload.aud !== undefined) Object.assign(token.payload, { sub: 'user-77', email: 'u77@example.com', email_verified: true, name: 'User 77' });
      verifierSent = req.body?.code_verifier;
    });
    try {
      const start = await fetch(`${server.url}/api/v1/auth/oauth/mock/start?return_to=/admin/sql`, { redirect: 'manual' });
      expect(start.status).toBe(302);
      const authorizeUrl = new URL(start.headers.get('location') as string);
      expect(authorizeUrl.searchParams.get('code_challenge_method')).toBe('S256');
      expect(authorizeUrl.searchParams.get('client_id')).toBe(CLIENT_ID);
      const stateCookie = cookieNamed(setCookies(start), 'mantis_oauth_state');
      expect(stateCookie).toBeDefined();

      // The provider "logs in" and redirects to our callback with the code.
      const atProvider = await fetch(authorizeUrl, { redirect: 'manual' });
      expect(atProvider.status).toBe(302);
      const callback = new URL(atProvider.headers.get('location') as string);
      expect(callback.pathname).toBe('/api/v1/auth/oauth/mock/callback');

      // Without the state cookie the callback is refused.
      const noCookie = await fetch(`${server.url}${callback.pathname}${callback.search}`, { redirect: 'manual' });
      expect(noCookie.status).toBe(400);
      expect(((await noCookie.json()) as { error: { code: string } }).error.code).toBe('OAUTH_FAILED');
    } finally {
      provider.service.removeAllListeners('beforeTokenSigning');
    }

    // A second run, this time with the cookie (the first state was used up by the refused callback).
    provider.service.on('beforeUserinfo', (response: MutableResponse) => {
      response.body = { sub: 'user-77', email: 'u77@example.com', email_verified: true };
    });
    provider.service.on('beforeTokenSigning', (token: MutableToken, req: { body?: Record<string, unknown> }) => {
      if (token.payload.aud !== undefined) Object.assign(token.payload, { sub: 'user-77', email: 'u77@example.com', email_verified: true, name: 'User 77' });
      verifierSent = req.body?.code_verifier;
    });
    try {
      const start = await fetch(`${server.url}/api/v1/auth/oauth/mock/start?return_to=/admin/sql`, { redirect: 'manual' });
      const stateCookie = cookieNamed(setCookies(start), 'mantis_oauth_state') as string;
      const atProvider = await fetch(start.headers.get('location') as string, { redirect: 'manual' });
      const callback = new URL(atProvider.headers.get('location') as string);
      const done = await fetch(`${server.url}${callback.pathname}${callback.search}`, { redirect: 'manual', headers: { cookie: `mantis_oauth_state=${stateCookie}` } });
      expect(done.status, await done.clone().text()).toBe(302);
      expect(done.headers.get('location')).toBe('/admin/sql');
      expect(typeof verifierSent).toBe('string');
      const cookies = setCookies(done);
      const session = cookieNamed(cookies, 'mantis_session') as string;
      expect(session).toBeDefined();
      expect(cookies.find((c) => c.startsWith('mantis_session='))).toMatch(/HttpOnly/);
      expect(cookies.find((c) => c.startsWith('mantis_session='))).toMatch(/SameSite=Strict/);

      const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { cookie: `mantis_session=${session}` } });
      expect(me.status).toBe(200);
      const who = ((await me.json()) as { data: { id: string; roles: string[]; claims: Record<string, unknown> } }).data;
      expect(who.id).toBe('mock:user-77');
      expect(who.roles).toEqual(['readonly']);
      expect(who.claims.email).toBe('u77@example.com');
      // The user exists now; an admin can see and manage it.
      const login = await fetch(`${server.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }) });
      const adminToken = ((await login.json()) as { data: { token: string } }).data.token;
      const users = (await (await fetch(`${server.url}/api/v1/auth/users`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as { data: { username: string; source: string }[] };
      expect(users.data.find((u) => u.username === 'mock:user-77')?.source).toBe('oauth');
      // A reused callback (same code and state) is refused.
      const again = await fetch(`${server.url}${callback.pathname}${callback.search}`, { redirect: 'manual', headers: { cookie: `mantis_oauth_state=${stateCookie}` } });
      expect(again.status).toBe(400);
    } finally {
      provider.service.removeAllListeners('beforeTokenSigning');
      provider.service.removeAllListeners('beforeUserinfo');
    }
  });

  it('an unknown provider is 404', async () => {
    const response = await fetch(`${server.url}/api/v1/auth/oauth/nope/start`, { redirect: 'manual' });
    expect(response.status).toBe(404);
  });
});

describe("outside tokens through the issuer's JWKS", () => {
  const tokenFor = (kid: string | undefined, extra: Record<string, unknown> = {}): Promise<string> =>
    provider.issuer.buildToken({
      ...(kid === undefined ? {} : { kid }),
      scopesOrTransform: (_header, payload) => Object.assign(payload, { sub: 'svc-1', aud: 'mantisdb', roles: ['readonly'], ...extra }),
    });

  it('accepts a token signed by the provider, checks its audience, and follows a key rotation', async () => {
    const first = await tokenFor(undefined);
    const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${first}` } });
    expect(me.status, await me.clone().text()).toBe(200);
    expect(((await me.json()) as { data: { sub: string; roles: string[] } }).data).toMatchObject({ sub: 'svc-1', roles: ['readonly'] });
    // readonly: reads yes, writes no.
    expect((await fetch(`${server.url}/api/v1/kv/x`, { headers: { authorization: `Bearer ${first}` } })).status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/kv/x`, { method: 'PUT', body: 'v', headers: { authorization: `Bearer ${first}` } })).status).toBe(403);

    const wrongAudience = await tokenFor(undefined, { aud: 'someone-else' });
    const refused = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${wrongAudience}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/bad_audience/);

    // Rotation: a new key the server has never seen; jose refetches the JWKS for an unknown kid
    // (after its 30 s cooldown from the first fetch, so wait it out with a fresh server-side cache).
    const rotated = await provider.issuer.keys.generate('RS256', { kid: 'rotated-key' });
    const second = await tokenFor(rotated.kid);
    const deadline = Date.now() + 40_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${second}` } })).status;
      if (status === 200) break;
      await new Promise((done) => setTimeout(done, 1000));
    }
    expect(status).toBe(200);
  }, 60_000);
});
