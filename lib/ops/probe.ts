// One probe of the token service as its users meet it, through the public endpoint (octo-sts's
// prober, plus revocation): (1) exchange a prober subject token for an access token and verify
// it against the JWKS the discovery document publishes, as a relying party would; (2) ask for a
// scope the prober policy does not grant, which must be refused with invalid_scope; (3) check
// introspection calls the token active, revoke it (RFC 7009) and measure the time until
// introspection calls it inactive: revocation propagation lag (SLI M9). A step's failure is
// reported, never thrown, and its detail names statuses and error codes, never a token.
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../shared/claims.ts';
import {
  PROBER_AUDIENCE,
  PROBER_DENIED_SCOPE,
  PROBER_NAME,
  PROBER_SCOPE,
  PROBER_SUBJECT,
} from './prober-issuer.ts';

export type ProbeName = 'exchange' | 'refusal' | 'revocation';

export interface ProbeStep {
  readonly probe: ProbeName;
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Why it failed: statuses and error codes only. */
  readonly detail?: string;
}

export interface ProbeReport {
  readonly steps: readonly ProbeStep[];
  /** M9: milliseconds from the revoke answer to the first inactive introspection; undefined when not measured. */
  readonly revocationLagMs?: number;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface ProbeOptions {
  /** The service's issuer, which is also its base URL. */
  readonly issuer: string;
  /** A fresh prober subject token per call (prober-issuer.ts mintProberToken). */
  readonly subjectToken: () => Promise<string>;
  /** Headers that authorize a request to the IAM-protected introspection route (SigV4 on AWS). */
  readonly authorize: (request: HttpRequest) => Promise<Record<string, string>>;
  readonly fetch?: typeof fetch;
  /** Milliseconds, monotonic (default performance.now). */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Longest wait for introspection to see the revocation (default 30 000 ms). */
  readonly lagTimeoutMs?: number;
  /** Pause between introspection polls (default 250 ms). */
  readonly pollIntervalMs?: number;
  /** Deadline of each HTTP request (default 5000 ms). */
  readonly requestTimeoutMs?: number;
}

class StepFailed extends Error {
  override readonly name = 'StepFailed';
}

const FORM = 'application/x-www-form-urlencoded';
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** Runs the three probes in order (revocation needs the exchanged token) and reports each. */
export async function runProbe(options: ProbeOptions): Promise<ProbeReport> {
  const fetchFn = options.fetch ?? fetch;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((done) => setTimeout(done, ms)));
  const lagTimeout = options.lagTimeoutMs ?? 30_000;
  const pollInterval = options.pollIntervalMs ?? 250;
  const requestTimeout = options.requestTimeoutMs ?? 5000;
  const base = options.issuer.replace(/\/+$/, '');

  async function send(request: HttpRequest): Promise<{ status: number; body: Record<string, unknown> }> {
    let response: Response;
    try {
      response = await fetchFn(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'error',
        signal: AbortSignal.timeout(requestTimeout),
      });
    } catch (error) {
      throw new StepFailed(`${request.method} ${new URL(request.url).pathname}: ${(error as Error).name}`);
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: the status alone decides.
    }
    return { status: response.status, body };
  }

  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    send({
      method: 'POST',
      url: `${base}${path}`,
      headers: { 'content-type': FORM, ...headers },
      body: form(fields),
    });

  const exchangeFor = async (scope: string) =>
    post('/token', {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: await options.subjectToken(),
      subject_token_type: TOKEN_TYPE.jwt,
      audience: PROBER_AUDIENCE,
      scope,
    });

  async function introspect(token: string): Promise<boolean> {
    const request: HttpRequest = {
      method: 'POST',
      url: `${base}/introspect`,
      headers: { 'content-type': FORM },
      body: form({ token }),
    };
    const signed = { ...request, headers: { ...request.headers, ...(await options.authorize(request)) } };
    const { status, body } = await send(signed);
    if (status !== 200 || typeof body.active !== 'boolean') {
      throw new StepFailed(`introspection answered ${status}${errorOf(body)}`);
    }
    return body.active;
  }

  async function step<T>(probe: ProbeName, run: () => Promise<T>): Promise<{ step: ProbeStep; value?: T }> {
    const started = now();
    try {
      const value = await run();
      return { step: { probe, ok: true, latencyMs: now() - started }, value };
    } catch (error) {
      const detail = error instanceof StepFailed ? error.message : `unexpected ${(error as Error).name}`;
      return { step: { probe, ok: false, latencyMs: now() - started, detail } };
    }
  }

  const steps: ProbeStep[] = [];
  const exchanged = await step('exchange', async () => {
    const { status, body } = await exchangeFor(PROBER_SCOPE);
    if (status !== 200 || typeof body.access_token !== 'string') {
      throw new StepFailed(`token endpoint answered ${status}${errorOf(body)}`);
    }
    await verifyPublished(body.access_token);
    return body.access_token;
  });
  steps.push(exchanged.step);

  const refused = await step('refusal', async () => {
    const { status, body } = await exchangeFor(PROBER_DENIED_SCOPE);
    if (status !== 400 || body.error !== 'invalid_scope') {
      throw new StepFailed(`a scope the policy does not grant was answered ${status}${errorOf(body)}`);
    }
  });
  steps.push(refused.step);

  let revocationLagMs: number | undefined;
  const token = exchanged.value;
  const revoked = await step('revocation', async () => {
    if (token === undefined) throw new StepFailed('no token to revoke (the exchange probe failed)');
    if (!(await introspect(token))) throw new StepFailed('introspection called a fresh token inactive');
    const { status } = await post('/revoke', { token });
    if (status !== 200) throw new StepFailed(`revocation answered ${status}`);
    const revokedAt = now();
    for (;;) {
      if (!(await introspect(token))) {
        revocationLagMs = now() - revokedAt;
        return;
      }
      if (now() - revokedAt >= lagTimeout) {
        throw new StepFailed(`introspection still called the token active ${lagTimeout} ms after revocation`);
      }
      await sleep(pollInterval);
    }
  });
  steps.push(revoked.step);
  return revocationLagMs === undefined ? { steps } : { steps, revocationLagMs };

  /** Verifies `token` as a relying party: keys from discovery's jwks_uri, pinned iss, aud, alg, typ. */
  async function verifyPublished(accessToken: string): Promise<void> {
    const discovery = await send({
      method: 'GET',
      url: `${base}/.well-known/openid-configuration`,
      headers: { accept: 'application/json' },
    });
    const jwksUri = discovery.body.jwks_uri;
    if (discovery.status !== 200 || discovery.body.issuer !== options.issuer || typeof jwksUri !== 'string') {
      throw new StepFailed(`discovery answered ${discovery.status} without this issuer and a jwks_uri`);
    }
    const jwks = await send({ method: 'GET', url: jwksUri, headers: { accept: 'application/json' } });
    if (jwks.status !== 200 || !Array.isArray(jwks.body.keys))
      throw new StepFailed(`JWKS answered ${jwks.status}`);
    try {
      const { payload } = await jwtVerify(
        accessToken,
        createLocalJWKSet(jwks.body as unknown as JSONWebKeySet),
        {
          issuer: options.issuer,
          audience: PROBER_AUDIENCE,
          algorithms: ['ES256', 'RS256', 'PS256'],
          typ: 'at+jwt',
          requiredClaims: ['jti', 'exp', 'iat'],
        },
      );
      if (
        payload.sub !== PROBER_SUBJECT ||
        payload.scope !== PROBER_SCOPE ||
        payload.client_id !== PROBER_NAME
      ) {
        throw new StepFailed('the issued token does not carry the prober policy grant');
      }
    } catch (error) {
      if (error instanceof StepFailed) throw error;
      throw new StepFailed(
        `the issued token does not verify against the published JWKS (${(error as { code?: string }).code ?? 'error'})`,
      );
    }
  }
}

const errorOf = (body: Record<string, unknown>): string =>
  typeof body.error === 'string' && /^[a-z_]{1,40}$/.test(body.error) ? ` ${body.error}` : '';
