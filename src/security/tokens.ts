// JSON Web Tokens with jose: the server's own session tokens (HS256, signed
// with MANTIS_JWT_SECRET or a secret generated into the data directory) and
// tokens of an outside issuer (RS256/ES256/EdDSA, keys from a PEM file or the
// issuer's JWKS, fetched, cached and refetched on an unknown key id). Every
// token has iss, aud, exp and nbf checked. Failures are classified so the
// 401 says why (expired, wrong audience, bad signature…) without echoing the
// token.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  importSPKI,
  importX509,
  jwtVerify,
  SignJWT,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

export type TokenSettings = {
  /** iss of the server's own tokens. */
  readonly issuer: string;
  /** aud every token must carry. */
  readonly audience: string;
  readonly ttlS: number;
  /** Outside issuer: its iss, and its keys (a JWKS URL or a PEM file). */
  readonly externalIssuer: string;
  readonly jwksUrl: string;
  readonly publicKeyFile: string;
  /** The claim of an outside token that lists its roles. */
  readonly rolesClaim: string;
};

export class TokenError extends Error {
  constructor(
    readonly reason: 'expired' | 'not_yet_valid' | 'bad_audience' | 'bad_issuer' | 'bad_signature' | 'malformed' | 'unknown_issuer' | 'revoked',
    message: string,
  ) {
    super(message);
  }
}

export type VerifiedToken = { readonly payload: JWTPayload; readonly own: boolean };

const EXTERNAL_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const CLOCK_TOLERANCE_S = 5;

export class Tokens {
  private secret: Uint8Array;
  private externalKey: JWTVerifyGetKey | Awaited<ReturnType<typeof importSPKI>> | null = null;

  private constructor(
    readonly settings: TokenSettings,
    secret: Uint8Array,
  ) {
    this.secret = secret;
  }

  static async create(settings: TokenSettings, secret: Uint8Array): Promise<Tokens> {
    const tokens = new Tokens(settings, secret);
    await tokens.loadExternalKeys();
    return tokens;
  }

  /** SIGHUP: a new signing secret (tokens signed with the old one stop verifying) and the public key file re-read. */
  async reload(secret: Uint8Array): Promise<void> {
    this.secret = secret;
    await this.loadExternalKeys();
  }

  private async loadExternalKeys(): Promise<void> {
    const s = this.settings;
    if (s.jwksUrl !== '') {
      this.externalKey = createRemoteJWKSet(new URL(s.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: 5_000 });
    } else if (s.publicKeyFile !== '') {
      const pem = await readFile(s.publicKeyFile, 'utf8');
      const alg = pemAlgorithm(pem);
      this.externalKey = pem.includes('BEGIN CERTIFICATE') ? await importX509(pem, alg) : await importSPKI(pem, alg);
    }
  }

  /** A session token for a user or an OAuth identity: roles and claims inside, a fresh jti and csrf value. */
  async issue(subject: string, roles: readonly string[], claims: Readonly<Record<string, unknown>>): Promise<{ token: string; expiresAt: number; jti: string; csrf: string }> {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + this.settings.ttlS;
    const jti = randomBytes(12).toString('base64url');
    const csrf = randomBytes(18).toString('base64url');
    const reserved = new Set(['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti', 'roles', 'csrf']);
    const extra = Object.fromEntries(Object.entries(claims).filter(([k]) => !reserved.has(k)));
    const token = await new SignJWT({ ...extra, roles: [...roles], csrf })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(expiresAt)
      .setJti(jti)
      .sign(this.secret);
    return { token, expiresAt, jti, csrf };
  }

  async verify(token: string): Promise<VerifiedToken> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenError('malformed', 'the bearer token is not a JWT');
    }
    try {
      if (alg === 'HS256') {
        const { payload } = await jwtVerify(token, this.secret, {
          issuer: this.settings.issuer,
          audience: this.settings.audience,
          algorithms: ['HS256'],
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['exp', 'sub'],
        });
        return { payload, own: true };
      }
      if (this.externalKey === null) throw new TokenError('unknown_issuer', `tokens signed with ${alg ?? 'no algorithm'} are not accepted (no outside issuer is configured)`);
      const options = {
        audience: this.settings.audience,
        algorithms: EXTERNAL_ALGS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
        ...(this.settings.externalIssuer === '' ? {} : { issuer: this.settings.externalIssuer }),
      };
      const key = this.externalKey;
      const { payload } = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      return { payload, own: false };
    } catch (error) {
      throw classify(error);
    }
  }
}

function classify(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  if (error instanceof joseErrors.JWTExpired) return new TokenError('expired', 'the token has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return new TokenError('bad_audience', 'the token is not meant for this server (aud)');
    if (error.claim === 'iss') return new TokenError('bad_issuer', 'the token comes from an issuer this server does not accept (iss)');
    if (error.claim === 'nbf') return new TokenError('not_yet_valid', 'the token is not valid yet (nbf)');
    return new TokenError('malformed', `the token's "${error.claim}" claim is missing or invalid`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey) {
    return new TokenError('bad_signature', 'the token signature does not verify');
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return new TokenError('bad_signature', 'the token uses an algorithm this server does not accept');
  if (error instanceof joseErrors.JOSEError) return new TokenError('malformed', 'the token cannot be verified');
  return new TokenError('malformed', 'the token cannot be verified');
}

function pemAlgorithm(pem: string): string {
  // Ed25519 SPKI keys are short; EC keys name a curve; everything else is RSA.
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(body, 'base64');
  if (bytes.length < 64) return 'EdDSA';
  if (bytes.includes(Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]))) return 'ES256';
  return 'RS256';
}
