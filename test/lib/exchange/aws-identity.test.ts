import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signCallerIdentity } from '../../../lib/client/aws-identity.ts';
import type { Config } from '../../../lib/config/config.ts';
import {
  type AwsIdentityVerifier,
  createAwsIdentityVerifier,
  identityClaims,
} from '../../../lib/exchange/aws-identity.ts';
import { AWS_AUDIENCE_HEADER, serializeAwsRequest } from '../../../lib/shared/aws-request.ts';
import { withDeadline } from '../../../lib/shared/deadline.ts';
import type { OAuthError } from '../../../lib/shared/errors.ts';
import { frozenClock } from '../../support/clock.ts';
import { buildConfig, STS_ISSUER } from '../../support/config.ts';
import {
  type RawSignedRequest,
  type StsEndpoint,
  signRaw,
  startStsEndpoint,
  TEST_IDENTITIES,
} from '../../support/sts-endpoint.ts';

/**
 * IAM callers (SigV4 GetCallerIdentity) against the loopback STS stand-in, which verifies each
 * signature with the AWS SDK's signer: the claims a policy sees, and every attack of issue 15
 * refused before or after the one STS call, with STS faults as 503.
 */
const clock = frozenClock();
const date = () => new Date(clock());
const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
const FORM_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';
let sts: StsEndpoint;
let config: Config;
let verify: AwsIdentityVerifier;

beforeAll(async () => {
  sts = await startStsEndpoint();
  config = buildConfig({
    trustedIssuers: [{ name: 'aws', type: 'aws', accounts: ['111122223333'] } as never],
    policies: [{ name: 'p', issuer: 'aws', subject: '*', audiences: ['https://api.test'] }],
  });
  verify = createAwsIdentityVerifier({ config, clock, stsEndpoint: sts.endpoint, stsTimeoutMs: 5000 });
});
afterAll(() => sts?.close());

/** A correctly signed request of `who` for this service, through the client's own signer. */
const signed = (who: keyof typeof TEST_IDENTITIES = 'lambda', audience = STS_ISSUER) =>
  signCallerIdentity({
    audience,
    endpoint: sts.endpoint,
    credentials: TEST_IDENTITIES[who].credentials,
    clock,
    env: {},
  });

/** A request signed by the test, changed as an attacker would. */
async function crafted(
  overrides: Partial<RawSignedRequest> = {},
  tamper: (r: {
    url: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
  }) => void = () => {},
) {
  const raw = await signRaw({
    url: `${sts.endpoint}/`,
    headers: { 'content-type': FORM_TYPE, [AWS_AUDIENCE_HEADER]: STS_ISSUER },
    body: BODY,
    credentials: TEST_IDENTITIES.lambda.credentials,
    date: date(),
    ...overrides,
  });
  tamper(raw);
  return serializeAwsRequest({
    url: raw.url,
    method: raw.method,
    headers: Object.entries(raw.headers).map(([key, value]) => ({ key, value })),
    ...(raw.body === undefined ? {} : { body: raw.body }),
  });
}

async function reasonOf(token: string | Promise<string>, role: 'subject' | 'actor' = 'subject') {
  const error = (await verify(await token, role).then(
    () => undefined,
    (thrown: unknown) => thrown,
  )) as OAuthError | undefined;
  if (!error) throw new Error('expected a refusal');
  return { status: error.status, code: error.code, reason: error.reason, retryAfter: error.retryAfter };
}

describe('IAM callers: claims', () => {
  it('maps a Lambda role session to its role ARN, with account, session name and ARNs as claims', async () => {
    const before = sts.calls.verified;
    const identity = await verify(await signed('lambda'), 'subject');
    expect(sts.calls.verified).toBe(before + 1);
    expect(identity.issuer.name).toBe('aws');
    expect(identity.claims).toEqual({
      iss: 'https://sts.amazonaws.com',
      sub: 'arn:aws:iam::111122223333:role/orders-fn-role',
      aws_account: '111122223333',
      aws_arn: 'arn:aws:sts::111122223333:assumed-role/orders-fn-role/orders-fn',
      aws_principal_id: 'AROAQLAMBDAROLEID0001:orders-fn',
      aws_principal_type: 'AssumedRole',
      aws_session_name: 'orders-fn',
      iat: clock.seconds(),
      exp: clock.seconds() + 300,
    });
    expect(identity.replay).toMatchObject({ issuer: 'aws4_request', until: clock.seconds() + 330 });
    expect(identity.replay.id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps an IAM user ARN as it is', async () => {
    const identity = await verify(await signed('user'), 'actor');
    expect(identity.claims).toMatchObject({
      sub: 'arn:aws:iam::111122223333:user/ops/alice',
      aws_principal_type: 'IAMUser',
    });
    expect(identity.claims.aws_session_name).toBeUndefined();
  });

  it('gives each signed request its own replay id, even in the same second (signed nonce)', async () => {
    const [a, b] = await Promise.all([verify(await signed(), 'subject'), verify(await signed(), 'subject')]);
    expect(a.replay.id).not.toBe(b.replay.id);
  });
});

describe('IAM callers: attacks refused before any STS call', () => {
  const refusedLocally = async (token: Promise<string> | string, reason: string) => {
    const before = sts.calls.received;
    expect(await reasonOf(token)).toMatchObject({
      status: 400,
      code: 'invalid_request',
      reason: `subject_token.${reason}`,
    });
    expect(sts.calls.received).toBe(before);
  };

  it('another action (AssumeRole) in the body', () =>
    refusedLocally(
      crafted({
        body: 'Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::111122223333:role/admin&RoleSessionName=x',
      }),
      'aws_action',
    ));
  it('another action in the query', () =>
    refusedLocally(
      crafted({ url: `${sts.endpoint}/?Action=GetSessionToken&Version=2011-06-15`, body: '' }),
      'aws_action',
    ));
  it('an extra parameter beside GetCallerIdentity', () =>
    refusedLocally(crafted({ body: `${BODY}&DurationSeconds=900` }), 'aws_action'));
  it('the action both in the query and the body', () =>
    refusedLocally(crafted({ url: `${sts.endpoint}/?${BODY}` }), 'aws_action'));
  it('another host', () => refusedLocally(crafted({ url: 'http://127.0.0.2:9/' }), 'aws_endpoint'));
  it('a credential-bearing URL', () =>
    refusedLocally(
      crafted({}, (r) => {
        r.url = r.url.replace('http://', 'http://user:secret@');
      }),
      'aws_endpoint',
    ));
  it('another path', () => refusedLocally(crafted({ url: `${sts.endpoint}/other` }), 'aws_endpoint'));
  it('a GET', () => refusedLocally(crafted({ method: 'GET' }), 'aws_method'));
  it('a Host header that is not the URL host', () =>
    refusedLocally(
      crafted({}, (r) => {
        r.headers.host = 'sts.amazonaws.com';
      }),
      'aws_host_header',
    ));
  it('a missing binding header', () =>
    refusedLocally(crafted({ headers: { 'content-type': FORM_TYPE } }), 'aws_audience_missing'));
  it('a binding header for another service', () =>
    refusedLocally(
      crafted({ headers: { 'content-type': FORM_TYPE, [AWS_AUDIENCE_HEADER]: 'https://other-sts.test' } }),
      'aws_audience_mismatch',
    ));
  it('a binding header left out of the signature', () =>
    refusedLocally(crafted({ unsigned: [AWS_AUDIENCE_HEADER] }), 'aws_audience_unsigned'));
  it('a binding header added after signing', () =>
    refusedLocally(
      crafted({ headers: { 'content-type': FORM_TYPE } }, (r) => {
        r.headers[AWS_AUDIENCE_HEADER] = STS_ISSUER;
      }),
      'aws_audience_unsigned',
    ));
  it('an expired date', () =>
    refusedLocally(crafted({ date: new Date(clock() - 6 * 60_000) }), 'aws_date_expired'));
  it('a date in the future', () =>
    refusedLocally(crafted({ date: new Date(clock() + 5 * 60_000) }), 'aws_date_future'));
  it('a header STS would read as another protocol (X-Amz-Target)', () =>
    refusedLocally(
      crafted({
        headers: {
          'content-type': FORM_TYPE,
          [AWS_AUDIENCE_HEADER]: STS_ISSUER,
          'x-amz-target': 'AWSSecurityTokenServiceV20110615.AssumeRole',
        },
      }),
      'aws_header_not_allowed',
    ));
  it('a signature for another service', () =>
    refusedLocally(crafted({ service: 'iam' }), 'aws_authorization'));
  it('a query-string (presigned URL) signature', () =>
    refusedLocally(
      crafted({ url: `${sts.endpoint}/?X-Amz-Signature=00`, body: BODY }),
      'aws_query_signature',
    ));
  it.each([
    ['not URL-encoded JSON', 'not json'],
    ['an array', encodeURIComponent('[]')],
    [
      'unknown fields',
      encodeURIComponent(JSON.stringify({ url: 'x', method: 'POST', headers: [], extra: 1 })),
    ],
    ['headers as an object', encodeURIComponent(JSON.stringify({ url: 'x', method: 'POST', headers: {} }))],
  ])('a malformed token (%s)', (_what, token) => refusedLocally(token, 'aws_malformed'));
  it('a duplicated header', async () => {
    const token = await crafted();
    const json = JSON.parse(decodeURIComponent(token)) as { headers: { key: string; value: string }[] };
    json.headers.push({ key: 'X-Amz-Date', value: '20300101T000000Z' });
    await refusedLocally(encodeURIComponent(JSON.stringify(json)), 'aws_header_duplicated');
  });
  it('a token over maxTokenBytes', () => refusedLocally('x'.repeat(20_000), 'too_large'));
});

describe('IAM callers: allow-listed STS endpoints (no override)', () => {
  const strict = () =>
    createAwsIdentityVerifier({
      config: buildConfig({
        trustedIssuers: [
          { name: 'aws', type: 'aws', accounts: ['111122223333'], regions: ['eu-west-1'] } as never,
        ],
        policies: [{ name: 'p', issuer: 'aws', subject: '*', audiences: ['https://api.test'] }],
      }),
      clock,
      fetch: () => Promise.reject(new Error('no network in this test')),
    });
  it.each([
    ['http', 'http://sts.amazonaws.com/', 'aws_endpoint'],
    ['a look-alike host', 'https://sts.amazonaws.com.evil.example/', 'aws_endpoint'],
    ['another port', 'https://sts.amazonaws.com:8443/', 'aws_endpoint'],
    ['a region not configured', 'https://sts.us-west-2.amazonaws.com/', 'aws_endpoint'],
    ['a loopback endpoint without AWS_ENDPOINT_URL_STS', 'http://127.0.0.1:1/', 'aws_endpoint'],
  ])('refuses %s', async (_what, url, reason) => {
    const error = await strict()(await crafted({ url }), 'subject').catch((thrown: OAuthError) => thrown);
    expect((error as OAuthError).reason).toBe(`subject_token.${reason}`);
  });
  it.each([
    ['the global endpoint', 'https://sts.amazonaws.com/', 'us-east-1'],
    ['a configured region', 'https://sts.eu-west-1.amazonaws.com/', 'eu-west-1'],
  ])('forwards to %s (the network is the only thing missing here)', async (_what, url, region) => {
    const error = await strict()(await crafted({ url, region }), 'subject').catch(
      (thrown: OAuthError) => thrown,
    );
    expect((error as OAuthError).reason).toBe('aws_sts.unreachable');
  });
  it('refuses a signature scoped to another region than the endpoint', async () => {
    const error = await strict()(
      await crafted({ url: 'https://sts.eu-west-1.amazonaws.com/', region: 'us-east-1' }),
      'subject',
    ).catch((thrown: OAuthError) => thrown);
    expect((error as OAuthError).reason).toBe('subject_token.aws_region');
  });
});

describe('IAM callers: what STS says', () => {
  it('a signature STS refuses is 400 (wrong secret)', async () => {
    const wrong = { ...TEST_IDENTITIES.lambda.credentials, secretAccessKey: 'not-the-secret' };
    expect(await reasonOf(crafted({ credentials: wrong }))).toMatchObject({
      status: 400,
      reason: 'subject_token.aws_refused',
    });
  });
  it('a body changed after signing is refused by STS', async () => {
    expect(
      await reasonOf(
        crafted({}, (r) => {
          r.body = 'Version=2011-06-15&Action=GetCallerIdentity';
        }),
      ),
    ).toMatchObject({ status: 400, reason: 'subject_token.aws_refused' });
  });
  it('an account not allowed', async () => {
    expect(await reasonOf(signed('stranger'))).toMatchObject({
      status: 400,
      reason: 'subject_token.aws_account_not_allowed',
    });
  });
  it.each([
    ['throttling', { kind: 'throttle' } as const, 'aws_sts.throttled'],
    ['an outage', { kind: 'down' } as const, 'aws_sts.failed'],
    ['an oversized answer', { kind: 'oversized' } as const, 'aws_sts.answer_too_large'],
    [
      'an answer that is not XML',
      { kind: 'malformed', body: '{"Arn":"arn:aws:iam::111122223333:role/admin"}' } as const,
      'aws_sts.answer_malformed',
    ],
    [
      'XML without the identity',
      {
        kind: 'malformed',
        body: '<GetCallerIdentityResponse><GetCallerIdentityResult/></GetCallerIdentityResponse>',
      } as const,
      'aws_sts.answer_malformed',
    ],
  ])('%s is 503 with Retry-After', async (_what, behaviour, reason) => {
    sts.behave(behaviour);
    try {
      const refusal = await reasonOf(signed());
      expect(refusal).toMatchObject({ status: 503, code: 'temporarily_unavailable', reason });
      expect(refusal.retryAfter).toBeGreaterThan(0);
    } finally {
      sts.behave({ kind: 'sts' });
    }
  });
  it("a slow STS is cut at the invocation's deadline, not the call's own 5 s limit: 503", async () => {
    sts.behave({ kind: 'slow', ms: 2000 });
    try {
      // Without the deadline the call would wait the 2 s out within its 5 s limit and succeed.
      const refusal = await withDeadline(Date.now() + 200, () => reasonOf(signed()));
      expect(refusal).toMatchObject({ status: 503, reason: 'aws_sts.unreachable' });
    } finally {
      sts.behave({ kind: 'sts' });
    }
  });
  it('a redirect is not followed', async () => {
    sts.behave({ kind: 'redirect', location: 'https://evil.example/' });
    try {
      expect(await reasonOf(signed())).toMatchObject({ status: 400, reason: 'subject_token.aws_redirect' });
    } finally {
      sts.behave({ kind: 'sts' });
    }
  });
  it.each([
    [
      'an assumed-role ARN whose session hides another role',
      'arn:aws:sts::111122223333:assumed-role/orders-fn-role/x/role/admin',
      'AROAQLAMBDAROLEID0001:x',
    ],
    [
      'an assumed-role ARN of another account than Account',
      'arn:aws:sts::999988887777:assumed-role/admin/orders-fn',
      'AROAQLAMBDAROLEID0001:orders-fn',
    ],
    [
      'a UserId naming another session',
      'arn:aws:sts::111122223333:assumed-role/admin/orders-fn',
      'AROAQLAMBDAROLEID0001:someone-else',
    ],
    [
      'an IAM role ARN (never what STS answers for a session)',
      'arn:aws:iam::111122223333:role/admin',
      'AROAQLAMBDAROLEID0001',
    ],
    [
      'two identities in one element',
      'arn:aws:sts::111122223333:assumed-role/admin/s</Arn><Arn>x',
      'AROAQLAMBDAROLEID0001:s',
    ],
  ])('refuses %s', async (_what, arn, userId) => {
    sts.behave({ kind: 'answer', arn, userId, account: '111122223333' });
    try {
      const refusal = await reasonOf(signed());
      expect(refusal.status).toBeGreaterThanOrEqual(400);
      expect(['subject_token.aws_identity_malformed', 'aws_sts.answer_malformed']).toContain(refusal.reason);
    } finally {
      sts.behave({ kind: 'sts' });
    }
  });
  it('refuses the root user', async () => {
    sts.behave({
      kind: 'answer',
      arn: 'arn:aws:iam::111122223333:root',
      userId: '111122223333',
      account: '111122223333',
    });
    try {
      expect(await reasonOf(signed())).toMatchObject({ reason: 'subject_token.aws_principal_kind' });
    } finally {
      sts.behave({ kind: 'sts' });
    }
  });
});

describe('identityClaims', () => {
  it('maps partitions and refuses inconsistent answers', () => {
    expect(
      identityClaims(
        'arn:aws-cn:sts::111122223333:assumed-role/r/s1',
        'AROAABCDEFGHIJKLMNOP:s1',
        '111122223333',
      )?.sub,
    ).toBe('arn:aws-cn:iam::111122223333:role/r');
    expect(
      identityClaims(
        'arn:aws:sts::111122223333:assumed-role/r/s1',
        'AROAABCDEFGHIJKLMNOP:s1:x',
        '111122223333',
      ),
    ).toBeUndefined();
    expect(
      identityClaims('arn:aws:iam::111122223333:user/bob', 'AROAABCDEFGHIJKLMNOP', '111122223333'),
    ).toBeUndefined();
  });
});
