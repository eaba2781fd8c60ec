// A small HashiCorp Vault stand-in for tests: node:http on 127.0.0.1, port 0,
// speaking exactly the routes src/security/secrets.ts uses, with Vault's
// answer shapes:
//
//   GET  /v1/{mount}/data/{path}          KV v2 read (data.data + data.metadata)
//   POST /v1/auth/{approle mount}/login   AppRole login → auth.client_token
//   POST /v1/auth/token/renew-self        → auth.lease_duration
//   GET  /v1/auth/token/lookup-self       → data.ttl, data.renewable
//
// Tokens are checked (unknown, revoked or expired → 403
// {"errors":["permission denied"]}). A test changes secret values, token TTLs
// and failure switches on the object and reads the counters.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeToken = {
  readonly value: string;
  /** Lease granted at creation and on each renewal, seconds; 0 = never expires. */
  ttlSeconds: number;
  renewable: boolean;
  /** Date.now() at which the token stops working; Infinity when never. */
  expiresAt: number;
  revoked: boolean;
  /** Whether the token may read KV secrets. */
  canRead: boolean;
  renewals: number;
};

export type FakeVaultCounts = {
  reads: number;
  logins: number;
  failedLogins: number;
  renewals: number;
  failedRenewals: number;
  lookups: number;
  denied: number;
};

export type FakeVaultRequest = {
  readonly method: string;
  readonly path: string;
  readonly namespace: string | undefined;
  readonly hasToken: boolean;
};

type Version = { data: Record<string, unknown> | null; createdTime: string };

export class FakeVault {
  readonly url: string;
  readonly counts: FakeVaultCounts = { reads: 0, logins: 0, failedLogins: 0, renewals: 0, failedRenewals: 0, lookups: 0, denied: 0 };
  readonly requests: FakeVaultRequest[] = [];
  readonly tokens = new Map<string, FakeToken>();
  /** The AppRole role: mount, credentials and the tokens it issues. Mutable. */
  readonly appRole = {
    mount: 'approle',
    roleId: `role-${randomBytes(8).toString('hex')}`,
    secretId: `sid-${randomBytes(12).toString('hex')}`,
    ttlSeconds: 3600,
    renewable: true,
  };
  /** renew-self answers 500 while set. */
  failRenewals = false;
  /** Every route answers 503 {"errors":["Vault is sealed"]} while set. */
  sealed = false;
  readonly #secrets = new Map<string, Version[]>();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(): Promise<FakeVault> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const vault = new FakeVault(server);
    server.on('request', (req, res) => vault.#handle(req, res));
    return vault;
  }

  /** Writes a new version of a KV v2 secret; answers the version number. */
  putSecret(mount: string, path: string, data: Record<string, unknown>): number {
    const key = `${mount}/${path}`;
    const versions = this.#secrets.get(key) ?? [];
    versions.push({ data: { ...data }, createdTime: new Date().toISOString() });
    this.#secrets.set(key, versions);
    return versions.length;
  }

  /** Soft-deletes the current version (KV v2 `DELETE`): reads then answer 404 with deletion metadata. */
  deleteSecret(mount: string, path: string): void {
    const versions = this.#secrets.get(`${mount}/${path}`);
    if (versions !== undefined && versions.length > 0) versions[versions.length - 1].data = null;
  }

  /** Creates a token (like `vault token create`). */
  issueToken(options: { ttlSeconds?: number; renewable?: boolean; canRead?: boolean } = {}): string {
    const ttlSeconds = options.ttlSeconds ?? 0;
    const token: FakeToken = {
      value: `hvs.${randomBytes(18).toString('base64url')}`,
      ttlSeconds,
      renewable: options.renewable ?? ttlSeconds > 0,
      expiresAt: ttlSeconds > 0 ? Date.now() + ttlSeconds * 1000 : Infinity,
      revoked: false,
      canRead: options.canRead ?? true,
      renewals: 0,
    };
    this.tokens.set(token.value, token);
    return token.value;
  }

  revokeAll(): void {
    for (const token of this.tokens.values()) token.revoked = true;
  }

  /** Every credential this server ever issued or accepts (tokens, role and secret IDs), for leak checks. */
  credentials(): string[] {
    return [...this.tokens.keys(), this.appRole.roleId, this.appRole.secretId];
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://vault').pathname;
      const method = req.method ?? 'GET';
      const namespace = header(req, 'x-vault-namespace');
      const tokenValue = header(req, 'x-vault-token');
      this.requests.push({ method, path, namespace, hasToken: tokenValue !== undefined });
      let body: unknown;
      try {
        body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
      } catch {
        reply(res, 400, { errors: ['failed to parse JSON input'] });
        return;
      }
      this.#route(method, path, tokenValue, body, res);
    });
  }

  #route(method: string, path: string, tokenValue: string | undefined, body: unknown, res: ServerResponse): void {
    if (this.sealed) {
      reply(res, 503, { errors: ['Vault is sealed'] });
      return;
    }
    if (path === `/v1/auth/${this.appRole.mount}/login`) {
      if (method !== 'POST') return reply(res, 405, { errors: [] });
      const { role_id: roleId, secret_id: secretId } = (body ?? {}) as { role_id?: unknown; secret_id?: unknown };
      if (roleId !== this.appRole.roleId || secretId !== this.appRole.secretId) {
        this.counts.failedLogins += 1;
        return reply(res, 400, { errors: ['invalid role or secret ID'] });
      }
      this.counts.logins += 1;
      const value = this.issueToken({ ttlSeconds: this.appRole.ttlSeconds, renewable: this.appRole.renewable });
      return reply(res, 200, {
        request_id: randomBytes(8).toString('hex'),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: null,
        auth: {
          client_token: value,
          accessor: randomBytes(8).toString('hex'),
          policies: ['default', 'mantisdb'],
          metadata: { role_name: 'mantisdb' },
          lease_duration: this.appRole.ttlSeconds,
          renewable: this.appRole.renewable,
        },
      });
    }

    const token = this.#check(tokenValue);
    if (token === undefined) {
      this.counts.denied += 1;
      return reply(res, 403, { errors: ['permission denied'] });
    }

    if (path === '/v1/auth/token/lookup-self') {
      if (method !== 'GET') return reply(res, 405, { errors: [] });
      this.counts.lookups += 1;
      const ttl = token.expiresAt === Infinity ? 0 : Math.max(1, Math.ceil((token.expiresAt - Date.now()) / 1000));
      return reply(res, 200, {
        request_id: randomBytes(8).toString('hex'),
        data: {
          id: token.value, // real Vault echoes the token here: the client must not log this answer
          ttl,
          creation_ttl: token.ttlSeconds,
          renewable: token.renewable,
          expire_time: token.expiresAt === Infinity ? null : new Date(token.expiresAt).toISOString(),
          policies: ['default', 'mantisdb'],
        },
      });
    }

    if (path === '/v1/auth/token/renew-self') {
      if (method !== 'POST') return reply(res, 405, { errors: [] });
      if (this.failRenewals) {
        this.counts.failedRenewals += 1;
        return reply(res, 500, { errors: ['internal error'] });
      }
      if (!token.renewable) {
        this.counts.failedRenewals += 1;
        return reply(res, 400, { errors: ['lease is not renewable'] });
      }
      token.renewals += 1;
      this.counts.renewals += 1;
      if (token.ttlSeconds > 0) token.expiresAt = Date.now() + token.ttlSeconds * 1000;
      return reply(res, 200, {
        request_id: randomBytes(8).toString('hex'),
        auth: {
          client_token: token.value,
          accessor: randomBytes(8).toString('hex'),
          policies: ['default', 'mantisdb'],
          lease_duration: token.ttlSeconds,
          renewable: token.renewable,
        },
      });
    }

    const kv = /^\/v1\/(.+)\/data\/(.+)$/.exec(path);
    if (kv !== null) {
      if (method !== 'GET') return reply(res, 405, { errors: [] });
      if (!token.canRead) {
        this.counts.denied += 1;
        return reply(res, 403, { errors: ['permission denied'] });
      }
      this.counts.reads += 1;
      const versions = this.#secrets.get(`${decodeURIComponent(kv[1])}/${decodeURIComponent(kv[2])}`);
      if (versions === undefined || versions.length === 0) return reply(res, 404, { errors: [] });
      const version = versions.length;
      const current = versions[version - 1];
      const metadata = {
        created_time: current.createdTime,
        custom_metadata: null,
        deletion_time: current.data === null ? new Date().toISOString() : '',
        destroyed: false,
        version,
      };
      return reply(res, current.data === null ? 404 : 200, {
        request_id: randomBytes(8).toString('hex'),
        lease_id: '',
        renewable: false,
        lease_duration: 0,
        data: { data: current.data, metadata },
        wrap_info: null,
        warnings: null,
        auth: null,
      });
    }

    reply(res, 404, { errors: [] });
  }

  #check(value: string | undefined): FakeToken | undefined {
    if (value === undefined) return undefined;
    const token = this.tokens.get(value);
    if (token === undefined || token.revoked || Date.now() >= token.expiresAt) return undefined;
    return token;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
