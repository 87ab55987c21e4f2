import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/config.ts';
import { type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import { API, expectOAuthError, type Harness, JWT, startHarness } from '../support/sts-harness.ts';

/**
 * Issue 12 item 5, from outside: an actor token that is itself delegated must not launder its
 * actors. A service `service:b` acting for `service:a` gets a token of ours (`act: service:b`);
 * presented as actor_token it used to be accepted with only `sub: service:a` kept, so `service:b`
 * vanished from the chain and skipped every actors rule and maxDelegationDepth. Every `act` entry
 * names the issuer that vouched for its actor.
 */
let ext: HostileIssuer;
let harness: Harness;

beforeAll(async () => {
  ext = await startHostileIssuer();
  harness = await startHarness({
    config: (base) => {
      ext.audience = base;
      return parseConfig({
        issuer: base,
        maxDelegationDepth: 1,
        trustedIssuers: [{ name: 'ext', issuer: ext.issuer, audiences: [base] }],
        policies: [
          {
            name: 'services',
            issuer: 'ext',
            subject: 'service:*',
            audiences: [base],
            actors: [{ issuer: 'ext', subject: 'service:*' }],
          },
          {
            name: 'users',
            issuer: 'ext',
            subject: 'user:*',
            audiences: [API],
            actors: [{ issuer: 'self', origin: 'ext', rootPolicy: 'services', subject: 'service:a' }],
          },
        ],
      });
    },
  });
});

afterAll(async () => {
  await harness?.close();
  await ext?.close();
});

const external = (sub: string) => ext.token({ claims: { sub } });

/** A token of ours for `service:a`, optionally with `service:b` acting for it. */
async function serviceToken(delegated: boolean): Promise<string> {
  const answer = await harness.exchange({
    subject_token: external('service:a'),
    subject_token_type: JWT,
    audience: harness.sts.url,
    ...(delegated ? { actor_token: external('service:b'), actor_token_type: JWT } : {}),
  });
  expect(answer.status, answer.text).toBe(200);
  return String(answer.body?.access_token);
}

describe('actor tokens that carry act (issue 12 item 5)', () => {
  it('an actor token of ours that is itself delegated is refused, not flattened to its sub', async () => {
    const laundering = await serviceToken(true);
    expect(decodeJwt(laundering).act).toEqual({ sub: 'service:b', iss: ext.issuer });
    const answer = await harness.exchange({
      subject_token: external('user:alice'),
      subject_token_type: JWT,
      audience: API,
      actor_token: laundering,
      actor_token_type: JWT,
    });
    expectOAuthError(answer, 400, 'invalid_request');
  });

  it('an external actor token that carries act is refused too', async () => {
    const answer = await harness.exchange({
      subject_token: external('user:alice'),
      subject_token_type: JWT,
      audience: API,
      actor_token: ext.token({ claims: { sub: 'service:a', act: { sub: 'service:b' } } }),
      actor_token_type: JWT,
    });
    expectOAuthError(answer, 400, 'invalid_request');
  });

  it('an undelegated actor token of ours is accepted, and its act entry names the issuer behind it', async () => {
    const answer = await harness.exchange({
      subject_token: external('user:alice'),
      subject_token_type: JWT,
      audience: API,
      actor_token: await serviceToken(false),
      actor_token_type: JWT,
    });
    expect(answer.status, answer.text).toBe(200);
    expect(decodeJwt(String(answer.body?.access_token)).act).toEqual({ sub: 'service:a', iss: ext.issuer });
  });
});
