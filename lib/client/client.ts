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

export interface ExchangeRequest {
  readonly subjectToken: string;
  /** Default `urn:ietf:params:oauth:token-type:jwt`. */
  readonly subjectTokenType?: string;
  /** Exactly one of `audience` and `resource`. */
  readonly audience?: string;
  readonly resource?: string;
  /** Space-separated, or a list. */
  readonly scope?: string | readonly string[];
  /** Delegation: the token of whoever acts for the subject. */
  readonly actorToken?: string;
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
  const parts = [
    'sts-exchange-v1',
    request.subjectTokenType ?? TOKEN_TYPE.jwt,
    request.subjectToken,
    request.actorToken ? (request.actorTokenType ?? TOKEN_TYPE.jwt) : null,
    request.actorToken ?? null,
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
      if (cached) return this.#present(cached, true);
    }
    const issued = await this.#flights.run(key, () => this.#exchange(key, request));
    return this.#present(issued, false);
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

  async #exchange(key: string, request: ExchangeRequest): Promise<Issued> {
    const sentAt = this.#http.clock();
    const scopes = scopeList(request.scope);
    const response = await this.#http.postForm(`${this.endpoint}/token`, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: request.subjectToken,
      subject_token_type: request.subjectTokenType ?? TOKEN_TYPE.jwt,
      actor_token: request.actorToken,
      actor_token_type: request.actorToken ? (request.actorTokenType ?? TOKEN_TYPE.jwt) : undefined,
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

  #present(issued: Issued, fromCache: boolean): ExchangedToken {
    const expiresIn = Math.max(0, Math.ceil((issued.expiresAt - this.#http.clock()) / 1000));
    return { ...issued, expiresIn, fromCache };
  }
}

export { TokenExchangeError };
