// The client SDK: RFC 8693 token exchange with an in-memory cache and single flight, and the
// RFC 7662 introspection and RFC 7009 revocation calls. Retries and typed errors come from
// `client-http.ts`; every call resolves to data or throws a `TokenExchangeError`.

import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { TOKEN_TYPE } from '../shared/claims.ts';
import { isAllowedUrl } from '../shared/urls.ts';
import { type CacheOptions, SingleFlight, TokenCache } from './cache.ts';
import { type DpopKey, signDpopProof } from './dpop.ts';
import { createHttp, type Http, type HttpOptions, jsonObject, TokenExchangeError } from './http.ts';

export interface StsClientOptions extends HttpOptions {
  /** Base URL of the service (`https://sts.example.com`, or http on a loopback host). */
  readonly endpoint: string;
  /** `false` turns the cache off (single flight stays on). */
  readonly cache?: CacheOptions | false;
  /**
   * A DPoP key (RFC 9449; `generateDpopKey()` makes a non-extractable one): every exchange sends
   * a proof by it, so the tokens issued are bound to it (`token_type: DPoP`), and bound subject
   * or actor tokens of this key can be exchanged.
   */
  readonly dpop?: DpopKey;
}

/** What a downstream request needs to present a token: method and URL, for the DPoP proof. */
export interface DownstreamRequest {
  readonly method: string;
  readonly url: string;
}

/**
 * A token made afresh for each exchange, such as the caller's own AWS identity (a signed STS
 * request, accepted once: `awsIdentity()` of `./client/aws`). Its `tokenType` is sent with it.
 */
export interface TokenSource {
  readonly tokenType: string;
  /** A stable, non-secret name of what the source proves, for the cache key. */
  readonly cacheId: string;
  token(context: { readonly endpoint: string }): Promise<string>;
}

export interface ExchangeRequest {
  /** A token, or a source that makes one per exchange (its type replaces `subjectTokenType`). */
  readonly subjectToken: string | TokenSource;
  /** Default `urn:ietf:params:oauth:token-type:jwt`. */
  readonly subjectTokenType?: string;
  /** Exactly one of `audience` and `resource`. */
  readonly audience?: string;
  readonly resource?: string;
  /** Space-separated, or a list. */
  readonly scope?: string | readonly string[];
  /** Delegation: the token of whoever acts for the subject (or a source of one). */
  readonly actorToken?: string | TokenSource;
  /** Default `urn:ietf:params:oauth:token-type:jwt`. */
  readonly actorTokenType?: string;
  readonly requestedTokenType?: string;
  /** `false` skips the cache for this call (identical calls in flight are still shared). */
  readonly cache?: boolean;
}

export interface ExchangedToken {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly issuedTokenType: string;
  /** Whole seconds left when this object was returned. */
  readonly expiresIn: number;
  /** Epoch milliseconds (measured from when the request was sent). */
  readonly expiresAt: number;
  readonly scope: string | undefined;
  readonly fromCache: boolean;
}

/** RFC 7662 §2.2 introspection response. */
export interface IntrospectionResponse {
  readonly active: boolean;
  readonly scope?: string;
  readonly client_id?: string;
  readonly token_type?: string;
  readonly exp?: number;
  readonly iat?: number;
  readonly nbf?: number;
  readonly sub?: string;
  readonly aud?: string | string[];
  readonly iss?: string;
  readonly jti?: string;
  readonly act?: Record<string, unknown>;
  readonly [claim: string]: unknown;
}

export interface IntrospectOptions {
  /** `Authorization: Bearer` for the introspection route (the local server's STS_ADMIN_TOKEN). */
  readonly adminToken?: string;
  readonly tokenTypeHint?: string;
}

export interface RevokeOptions {
  readonly tokenTypeHint?: string;
}

const scopeList = (scope: ExchangeRequest['scope']): string[] => [
  ...new Set((typeof scope === 'string' ? scope.split(' ') : (scope ?? [])).filter(Boolean)),
];

/**
 * The cache and single-flight key of a request: a SHA-256 over everything that shapes the
 * answer (tokens, token types, target, scopes in any order), so no raw token is ever held as a key.
 */
export function exchangeCacheKey(request: ExchangeRequest, dpopJkt?: string): string {
  const { subjectToken, actorToken } = request;
  const parts = [
    dpopJkt ? `sts-exchange-dpop-${dpopJkt}` : 'sts-exchange-v1',
    typeof subjectToken === 'string' ? (request.subjectTokenType ?? TOKEN_TYPE.jwt) : subjectToken.tokenType,
    typeof subjectToken === 'string' ? subjectToken : { source: subjectToken.cacheId },
    actorToken
      ? typeof actorToken === 'string'
        ? (request.actorTokenType ?? TOKEN_TYPE.jwt)
        : actorToken.tokenType
      : null,
    actorToken ? (typeof actorToken === 'string' ? actorToken : { source: actorToken.cacheId }) : null,
    request.audience ?? null,
    request.resource ?? null,
    scopeList(request.scope).sort(),
    request.requestedTokenType ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** Seconds until a JWT's `exp` (unverified), for a response without `expires_in`; 0 if unknown. */
function jwtLifetime(token: string, now: number): number {
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? Math.max(0, exp - Math.floor(now / 1000)) : 0;
  } catch {
    return 0;
  }
}

interface Issued {
  readonly accessToken: string;
  readonly tokenType: string;
  readonly issuedTokenType: string;
  readonly expiresAt: number;
  readonly scope: string | undefined;
}

export class StsClient {
  readonly endpoint: string;
  readonly #http: Http;
  readonly #cache: TokenCache<Issued> | undefined;
  readonly #flights = new SingleFlight<Issued>();
  readonly #dpop: DpopKey | undefined;
  /** The last `DPoP-Nonce` each origin (the service, downstream APIs) asked for. */
  readonly #nonces = new Map<string, string>();

  constructor(options: StsClientOptions) {
    if (!isAllowedUrl(options.endpoint)) {
      throw new TypeError(
        'endpoint must be an https URL (http only on a loopback host), without credentials',
      );
    }
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.#http = createHttp(options);
    this.#dpop = options.dpop;
    this.#cache = options.cache === false ? undefined : new TokenCache(options.cache ?? {}, this.#http.clock);
  }

  /** Exchanges a subject token (and optional actor token) for a token for one audience. */
  async exchange(request: ExchangeRequest): Promise<ExchangedToken> {
    if (!request.subjectToken) throw new TypeError('subjectToken is required');
    if (!request.audience === !request.resource) {
      throw new TypeError('exactly one of audience and resource is required');
    }
    const key = exchangeCacheKey(request, this.#dpop?.jkt);
    if (request.cache !== false) {
      const cached = this.#cache?.get(key);
      if (cached) return this.#answer(cached, true);
    }
    const issued = await this.#flights.run(key, () => this.#exchange(key, request));
    return this.#answer(issued, false);
  }

  /** Forgets the cached answer to a request (e.g. after a downstream refused the token). */
  invalidate(request: ExchangeRequest): void {
    this.#cache?.delete(exchangeCacheKey(request, this.#dpop?.jkt));
  }

  /**
   * The DPoP proof for a downstream request with `accessToken` (RFC 9449 §7): `htm`, `htu`,
   * `ath`, and the nonce that origin last asked for. Send it as the `DPoP` header beside
   * `Authorization: DPoP <accessToken>`; `requestHeaders` builds both.
   */
  async dpopProof(request: DownstreamRequest & { readonly accessToken?: string }): Promise<string> {
    if (!this.#dpop) throw new TypeError('this client has no DPoP key (option dpop)');
    return signDpopProof(this.#dpop, {
      method: request.method,
      url: request.url,
      accessToken: request.accessToken,
      nonce: this.#nonces.get(originOf(request.url)),
      now: this.#http.clock(),
    });
  }

  /**
   * The headers that present an exchanged token downstream: `Authorization: DPoP` and a fresh
   * proof for a bound token, `Authorization: Bearer` for an unbound one.
   *
   * @example
   * const token = await sts.exchange({ subjectToken, audience: 'https://orders.internal' });
   * const url = 'https://orders.internal/v1/orders';
   * await fetch(url, { headers: await sts.requestHeaders(token, { method: 'GET', url }) });
   */
  async requestHeaders(
    token: Pick<ExchangedToken, 'accessToken' | 'tokenType'>,
    request: DownstreamRequest,
  ): Promise<Record<string, string>> {
    if (token.tokenType.toLowerCase() !== 'dpop') return { Authorization: `Bearer ${token.accessToken}` };
    return {
      Authorization: `DPoP ${token.accessToken}`,
      DPoP: await this.dpopProof({ ...request, accessToken: token.accessToken }),
    };
  }

  /** Remembers the `DPoP-Nonce` a downstream API answered with (say, with `use_dpop_nonce`). */
  rememberDpopNonce(url: string, nonce: string): void {
    this.#nonces.set(originOf(url), nonce);
  }

  clearCache(): void {
    this.#cache?.clear();
  }

  get cacheSize(): number {
    return this.#cache?.size ?? 0;
  }

  /** RFC 7662: whether a token is active, and its claims when it is. */
  async introspect(token: string, options: IntrospectOptions = {}): Promise<IntrospectionResponse> {
    const response = await this.#http.postForm(
      `${this.endpoint}/introspect`,
      { token, token_type_hint: options.tokenTypeHint },
      options.adminToken ? { Authorization: `Bearer ${options.adminToken}` } : {},
    );
    const body = jsonObject(response);
    if (typeof body.active !== 'boolean') {
      throw new TokenExchangeError(
        'invalid_response',
        response.status,
        'introspection response lacks "active"',
      );
    }
    return body as IntrospectionResponse;
  }

  /** RFC 7009: revokes a token (the service answers 200 for unknown tokens too). */
  async revoke(token: string, options: RevokeOptions = {}): Promise<void> {
    await this.#http.postForm(`${this.endpoint}/revoke`, { token, token_type_hint: options.tokenTypeHint });
    this.#cache?.deleteWhere((issued) => issued.accessToken === token);
  }

  /** A token and its type, made now when it comes from a source. */
  async #present(token: string | TokenSource, type: string | undefined): Promise<[string, string]> {
    if (typeof token === 'string') return [token, type ?? TOKEN_TYPE.jwt];
    try {
      return [await token.token({ endpoint: this.endpoint }), token.tokenType];
    } catch (error) {
      // No credentials, or the signer failed: the caller's environment, not the service, said no.
      throw new TokenExchangeError('token_source_failed', 0, 'the token source could not make a token', {
        cause: error,
      });
    }
  }

  async #exchange(key: string, request: ExchangeRequest): Promise<Issued> {
    const [subjectToken, subjectTokenType] = await this.#present(
      request.subjectToken,
      request.subjectTokenType,
    );
    const [actorToken, actorTokenType] = request.actorToken
      ? await this.#present(request.actorToken, request.actorTokenType)
      : [undefined, undefined];
    const sentAt = this.#http.clock();
    const scopes = scopeList(request.scope);
    const url = `${this.endpoint}/token`;
    const fields = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subjectToken,
      subject_token_type: subjectTokenType,
      actor_token: actorToken,
      actor_token_type: actorTokenType,
      audience: request.audience,
      resource: request.resource,
      scope: scopes.length > 0 ? scopes.join(' ') : undefined,
      requested_token_type: request.requestedTokenType,
    };
    // A fresh proof per attempt (each jti is used once), with the nonce the service asked for.
    const headers = async (): Promise<Record<string, string>> =>
      this.#dpop ? { DPoP: await this.dpopProof({ method: 'POST', url }) } : {};
    let response: Awaited<ReturnType<Http['postForm']>>;
    try {
      response = await this.#http.postForm(url, fields, headers);
    } catch (error) {
      // RFC 9449 §8: the service wants a nonce in the proof; retry once with the one it gave.
      const nonce = error instanceof TokenExchangeError ? error.dpopNonce : undefined;
      if (!this.#dpop || !nonce || (error as TokenExchangeError).code !== 'use_dpop_nonce') throw error;
      this.rememberDpopNonce(url, nonce);
      response = await this.#http.postForm(url, fields, headers);
    }
    const nonce = response.headers.get('dpop-nonce');
    if (nonce) this.rememberDpopNonce(url, nonce);
    const body = jsonObject(response);
    const { access_token, token_type, issued_token_type, expires_in, scope } = body;
    if (typeof access_token !== 'string' || !access_token || typeof token_type !== 'string') {
      throw new TokenExchangeError('invalid_response', response.status, 'token response lacks access_token');
    }
    // A proof was sent: a token the service did not bind would fail downstream as DPoP.
    if (this.#dpop && token_type.toLowerCase() !== 'dpop') {
      throw new TokenExchangeError('invalid_response', response.status, 'the service did not bind the token');
    }
    const lifetime =
      typeof expires_in === 'number' && expires_in > 0 ? expires_in : jwtLifetime(access_token, sentAt);
    const issued: Issued = {
      accessToken: access_token,
      tokenType: token_type,
      issuedTokenType: typeof issued_token_type === 'string' ? issued_token_type : TOKEN_TYPE.accessToken,
      expiresAt: sentAt + lifetime * 1000,
      scope: typeof scope === 'string' ? scope : undefined,
    };
    if (lifetime > 0) this.#cache?.set(key, issued, sentAt, lifetime);
    return issued;
  }

  #answer(issued: Issued, fromCache: boolean): ExchangedToken {
    const expiresIn = Math.max(0, Math.ceil((issued.expiresAt - this.#http.clock()) / 1000));
    return { ...issued, expiresIn, fromCache };
  }
}

const originOf = (url: string): string => new URL(url).origin;

export { TokenExchangeError };
