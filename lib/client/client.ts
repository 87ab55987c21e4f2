// The client SDK: RFC 8693 token exchange with an in-memory cache and single flight, and the
// RFC 7662 introspection and RFC 7009 revocation calls. Retries and typed errors come from
// `client-http.ts`; every call resolves to data or throws a `TokenExchangeError`.

import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { TOKEN_TYPE } from '../shared/claims.ts';
import { isAllowedUrl } from '../shared/urls.ts';
import { type CacheOptions, SingleFlight, TokenCache } from './cache.ts';
import { createHttp, type Http, type HttpOptions, jsonObject, TokenExchangeError } from './http.ts';

export interface StsClientOptions extends HttpOptions {
  /** Base URL of the service (`https://sts.example.com`, or http on a loopback host). */
  readonly endpoint: string;
  /** `false` turns the cache off (single flight stays on). */
  readonly cache?: CacheOptions | false;
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
export function exchangeCacheKey(request: ExchangeRequest): string {
  const { subjectToken, actorToken } = request;
  const parts = [
    'sts-exchange-v1',
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

  constructor(options: StsClientOptions) {
    if (!isAllowedUrl(options.endpoint)) {
      throw new TypeError(
        'endpoint must be an https URL (http only on a loopback host), without credentials',
      );
    }
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.#http = createHttp(options);
    this.#cache = options.cache === false ? undefined : new TokenCache(options.cache ?? {}, this.#http.clock);
  }

  /** Exchanges a subject token (and optional actor token) for a token for one audience. */
  async exchange(request: ExchangeRequest): Promise<ExchangedToken> {
    if (!request.subjectToken) throw new TypeError('subjectToken is required');
    if (!request.audience === !request.resource) {
      throw new TypeError('exactly one of audience and resource is required');
    }
    const key = exchangeCacheKey(request);
    if (request.cache !== false) {
      const cached = this.#cache?.get(key);
      if (cached) return this.#answer(cached, true);
    }
    const issued = await this.#flights.run(key, () => this.#exchange(key, request));
    return this.#answer(issued, false);
  }

  /** Forgets the cached answer to a request (e.g. after a downstream refused the token). */
  invalidate(request: ExchangeRequest): void {
    this.#cache?.delete(exchangeCacheKey(request));
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
    const response = await this.#http.postForm(`${this.endpoint}/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subjectToken,
      subject_token_type: subjectTokenType,
      actor_token: actorToken,
      actor_token_type: actorTokenType,
      audience: request.audience,
      resource: request.resource,
      scope: scopes.length > 0 ? scopes.join(' ') : undefined,
      requested_token_type: request.requestedTokenType,
    });
    const body = jsonObject(response);
    const { access_token, token_type, issued_token_type, expires_in, scope } = body;
    if (typeof access_token !== 'string' || !access_token || typeof token_type !== 'string') {
      throw new TokenExchangeError('invalid_response', response.status, 'token response lacks access_token');
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

export { TokenExchangeError };
