import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/config.ts';
import { dynamoRevocationLookup } from '../../lib/verify/dynamodb.ts';
import { createAccessTokenVerifier } from '../../lib/verify/verifier.ts';
import { type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import {
  API,
  adjustableClock,
  expectOAuthError,
  form,
  type Harness,
  JWT,
  REPORTS,
  startHarness,
} from '../support/sts-harness.ts';
import { DYNAMO_STORE_KINDS, type OpenedStore } from '../support/token-stores.ts';

/**
 * Issue 12, items 1-4 and 6, from outside: HTTP against the local server with two loopback
 * issuers, the real DynamoDB API (dynalite and DynamoDB Local). What an operator revokes (a
 * subject of one issuer, a token, an actor) stays revoked everywhere the service answers:
 * exchange, introspection, and the downstream verifier's table-read mode.
 */
const ADMIN = { authorization: 'Bearer admin-secret-revocation-reach' };

describe.each(DYNAMO_STORE_KINDS)('revocation reach on $name', (kind) => {
  const clock = adjustableClock();
  let ext: HostileIssuer;
  let other: HostileIssuer;
  let opened: OpenedStore;
  let harness: Harness;

  beforeAll(async () => {
    [ext, other, opened] = await Promise.all([
      startHostileIssuer(clock),
      startHostileIssuer(clock),
      kind.open(),
    ]);
    harness = await startHarness({
      store: opened.store,
      clock,
      adminToken: ADMIN.authorization.slice(7),
      config: (base) => {
        ext.audience = base;
        other.audience = base;
        const actors = [
          { issuer: 'ext', subject: 'service:*' },
          { issuer: 'self', origin: 'ext', rootPolicy: 'services', subject: 'service:*' },
        ];
        return parseConfig({
          issuer: base,
          trustedIssuers: [
            { name: 'ext', issuer: ext.issuer, audiences: [base], maxTokenAge: '10m' },
            { name: 'other', issuer: other.issuer, audiences: [base] },
          ],
          policies: [
            {
              name: 'reports-root',
              issuer: 'ext',
              subject: 'user:*',
              claims: { dept: 'reports' },
              audiences: [base],
            },
            {
              name: 'users',
              issuer: 'ext',
              subject: 'user:*',
              audiences: [API, base],
              scopes: ['read'],
              actors,
            },
            { name: 'services', issuer: 'ext', subject: 'service:*', audiences: [base], maxLifetime: '1m' },
            { name: 'others', issuer: 'other', subject: 'user:*', audiences: [API] },
            { name: 'long', issuer: 'ext', subject: 'long:*', audiences: [API] },
            {
              name: 'chained',
              issuer: 'self',
              origin: 'ext',
              rootPolicy: 'users',
              subject: 'user:*',
              audiences: [API, base],
              scopes: ['read'],
              actors,
            },
            {
              name: 'reports-hop',
              issuer: 'self',
              rootPolicy: 'reports-root',
              subject: 'user:*',
              audiences: [base],
            },
            {
              name: 'reports',
              issuer: 'self',
              rootPolicy: 'reports-root',
              subject: 'user:*',
              audiences: [REPORTS],
            },
          ],
        });
      },
    });
  });

  afterAll(async () => {
    await harness?.close();
    await Promise.all([ext?.close(), other?.close(), opened?.close()]);
  });

  const post = (path: string, params: Record<string, string>) =>
    harness.request(form(params), { path, headers: ADMIN });
  const isActive = async (token: string) => {
    const answer = await post('/introspect', { token });
    expect(answer.status, answer.text).toBe(200);
    return answer.body?.active === true;
  };
  const adminRevoke = async (params: Record<string, string>) => {
    const answer = await post('/admin/revoke', params);
    expect(answer.status, answer.text).toBe(200);
    return answer.body;
  };
  const exchange = (params: Record<string, string>) =>
    harness.exchange({
      subject_token_type: JWT,
      ...(params.actor_token ? { actor_token_type: JWT } : {}),
      ...params,
    });
  const mint = async (params: Record<string, string>) => {
    const answer = await exchange(params);
    expect(answer.status, answer.text).toBe(200);
    return String(answer.body?.access_token);
  };
  const upstream = (sub: string, claims: Record<string, unknown> = {}, issuer = ext) =>
    issuer.token({ claims: { sub, ...claims } });
  /** The verifier downstream services run, reading the STS table (issue 12: it must agree). */
  const tableVerifier = (audience: string) =>
    createAccessTokenVerifier({
      issuer: harness.sts.url,
      audience,
      clock,
      revocation: { via: dynamoRevocationLookup({ ...opened.dynamo!, clock }), maxStaleMs: 0 },
    });
  const verifierRefuses = async (token: string, audience: string) => {
    const error = await tableVerifier(audience)
      .verify(token)
      .then(
        () => undefined,
        (thrown: unknown) => thrown as { code?: string; reason?: string },
      );
    return error?.code === 'invalid_token' && error.reason === 'revoked';
  };
  const later = (seconds: number) => clock.advance(seconds);

  describe('item 1: a subject-wide revocation stops the upstream token', () => {
    it('the leaked IdP token that minted before the revocation is refused after it; a fresh one works', async () => {
      const sub = `user:leaky-${kind.name.replace(/\W/g, '')}`;
      const leaked = upstream(sub);
      const before = await mint({ subject_token: leaked, audience: API });
      expect(await adminRevoke({ iss: 'ext', sub })).toMatchObject({ iss: ext.issuer, sub });
      expectOAuthError(await exchange({ subject_token: leaked, audience: API }), 400, 'invalid_request');
      expect(await isActive(before)).toBe(false);
      later(2);
      await mint({ subject_token: upstream(sub), audience: API });
    });

    it('an upstream token without iat is refused for maxTokenAge after the revocation, then accepted', async () => {
      const sub = `user:no-iat-${kind.name.replace(/\W/g, '')}`;
      await adminRevoke({ iss: ext.issuer, sub });
      const noIat = () => upstream(sub, { iat: undefined, exp: Math.floor(clock() / 1000) + 300 });
      expectOAuthError(await exchange({ subject_token: noIat(), audience: API }), 400, 'invalid_request');
      later(599);
      expectOAuthError(await exchange({ subject_token: noIat(), audience: API }), 400, 'invalid_request');
      later(2);
      await mint({ subject_token: noIat(), audience: API });
    });

    it('a token without iat that would outlive maxTokenAge is refused even without any revocation', async () => {
      const token = upstream('user:fresh', { iat: undefined, exp: Math.floor(clock() / 1000) + 601 });
      expectOAuthError(await exchange({ subject_token: token, audience: API }), 400, 'invalid_request');
    });

    it('applies to actor tokens too', async () => {
      const service = `service:leaky-${kind.name.replace(/\W/g, '')}`;
      const leakedActor = upstream(service);
      await adminRevoke({ iss: 'ext', sub: service });
      const answer = await exchange({
        subject_token: upstream('user:bob'),
        audience: API,
        actor_token: leakedActor,
      });
      expectOAuthError(answer, 400, 'invalid_request');
    });
  });

  describe('item 2: SUBJECT# names the issuer and stays within a key', () => {
    it("revoking one issuer's alice leaves another issuer's alice alone", async () => {
      const sub = `user:alice-${kind.name.replace(/\W/g, '')}`;
      const fromOther = await mint({ subject_token: upstream(sub, {}, other), audience: API });
      const fromExt = await mint({ subject_token: upstream(sub), audience: API });
      await adminRevoke({ iss: other.issuer, sub });
      expect(await isActive(fromOther)).toBe(false);
      expect(await isActive(fromExt)).toBe(true);
    });

    it('a bare sub is refused while two issuers are trusted; an unknown issuer is refused', async () => {
      const refused: Array<Record<string, string>> = [
        { sub: 'user:alice' },
        { iss: 'gitlab', sub: 'user:alice' },
        { iss: 'self', sub: 'x' },
      ];
      for (const params of refused) {
        expectOAuthError(await post('/admin/revoke', params), 400, 'invalid_request');
      }
    });

    it('a subject longer than a DynamoDB key (2048 bytes) is introspected and revoked, never a 500', async () => {
      const sub = `long:${'x'.repeat(3000)}`;
      const token = await mint({ subject_token: upstream(sub), audience: API });
      expect(await isActive(token)).toBe(true);
      expect(await adminRevoke({ iss: 'ext', sub })).toMatchObject({ sub });
      expect(await isActive(token)).toBe(false);
    });
  });

  describe('item 3: revoking a token revokes the tokens chained from it', () => {
    it('child and grandchild go inactive everywhere when the parent is revoked by its holder', async () => {
      const parent = await mint({
        subject_token: upstream('user:carol'),
        audience: harness.sts.url,
        scope: 'read',
      });
      const child = await mint({ subject_token: parent, audience: harness.sts.url, scope: 'read' });
      const grandchild = await mint({ subject_token: child, audience: API, scope: 'read' });
      expect(await isActive(grandchild)).toBe(true);
      expect(await verifierRefuses(grandchild, API)).toBe(false);

      expect((await harness.request(form({ token: parent }), { path: '/revoke' })).status).toBe(200);
      for (const token of [child, grandchild]) expect(await isActive(token)).toBe(false);
      expect(await verifierRefuses(grandchild, API)).toBe(true);
      expectOAuthError(
        await exchange({ subject_token: child, audience: API, scope: 'read' }),
        400,
        'invalid_request',
      );
    });

    it('an admin revoking the middle of a chain cuts off its descendants, not its parent', async () => {
      const parent = await mint({ subject_token: upstream('user:dave'), audience: harness.sts.url });
      const child = await mint({ subject_token: parent, audience: harness.sts.url });
      const grandchild = await mint({ subject_token: child, audience: API });
      await adminRevoke({ jti: String(decodeJwt(child).jti) });
      expect(await isActive(grandchild)).toBe(false);
      expect(await isActive(parent)).toBe(true);
    });

    it('records parent, root, root policy and ancestors, and bounds the chain', async () => {
      let token = await mint({ subject_token: upstream('user:erin'), audience: harness.sts.url });
      const rootJti = String(decodeJwt(token).jti);
      const jtis = [rootJti];
      for (let hop = 0; hop < 8; hop++) {
        token = await mint({ subject_token: token, audience: harness.sts.url });
        jtis.push(String(decodeJwt(token).jti));
      }
      const record = await opened.store.getToken(jtis.at(-1)!);
      expect(record).toMatchObject({
        parent: jtis.at(-2),
        root: rootJti,
        rootPolicy: 'users',
        ancestors: jtis.slice(0, -1),
      });
      expectOAuthError(await exchange({ subject_token: token, audience: API }), 400, 'invalid_request');
    });
  });

  describe('item 4: revoking an actor', () => {
    it('makes every live token it acts in inactive, and its upstream token cannot delegate again', async () => {
      const service = `service:compromised-${kind.name.replace(/\W/g, '')}`;
      const actorToken = upstream(service);
      const delegated = await mint({
        subject_token: upstream('user:frank'),
        audience: API,
        actor_token: actorToken,
      });
      const chained = await mint({
        subject_token: upstream('user:frank'),
        audience: harness.sts.url,
        actor_token: upstream(service),
      });
      const grandchild = await mint({ subject_token: chained, audience: API });
      expect(decodeJwt(delegated).act).toEqual({ sub: service, iss: ext.issuer });
      await adminRevoke({ iss: 'ext', sub: service });
      for (const token of [delegated, chained, grandchild]) expect(await isActive(token)).toBe(false);
      expect(await verifierRefuses(delegated, API)).toBe(true);
      expectOAuthError(
        await exchange({ subject_token: upstream('user:frank'), audience: API, actor_token: actorToken }),
        400,
        'invalid_request',
      );
    });

    it('a delegated token never outlives an actor token of ours, and dies with it', async () => {
      const actorToken = await mint({ subject_token: upstream('service:short'), audience: harness.sts.url });
      const delegated = await mint({
        subject_token: upstream('user:gina'),
        audience: API,
        actor_token: actorToken,
      });
      expect(decodeJwt(delegated).exp).toBe(decodeJwt(actorToken).exp);
      expect(decodeJwt(actorToken).exp! - decodeJwt(actorToken).iat!).toBe(60);
      expect(decodeJwt(delegated).act).toEqual({ sub: 'service:short', iss: ext.issuer });
      expect((await harness.request(form({ token: actorToken }), { path: '/revoke' })).status).toBe(200);
      expect(await isActive(delegated)).toBe(false);
    });
  });

  describe('item 6: a token meant for delegation does not unlock every self policy', () => {
    it("a chain is admitted by a self policy only when it started at that policy's rootPolicy", async () => {
      const forDelegation = await mint({ subject_token: upstream('user:hank'), audience: harness.sts.url });
      expectOAuthError(
        await exchange({ subject_token: forDelegation, audience: REPORTS }),
        400,
        'invalid_target',
      );

      const reportsRoot = await mint({
        subject_token: upstream('user:hank', { dept: 'reports' }),
        audience: harness.sts.url,
      });
      const hop = await mint({ subject_token: reportsRoot, audience: harness.sts.url });
      expect((await opened.store.getToken(String(decodeJwt(hop).jti)))?.rootPolicy).toBe('reports-root');
      await mint({ subject_token: hop, audience: REPORTS });
    });
  });
});
