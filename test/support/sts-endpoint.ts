import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';
import { NodeSha256 } from '../../lib/client/aws-identity.ts';

/**
 * A loopback stand-in for AWS STS (the awsQuery protocol): it verifies each request's SigV4
 * signature by signing the same request again with the AWS SDK's own signer and the known test
 * credentials, refuses what real STS refuses (unknown key, wrong signature, another action) with
 * STS's XML errors, and answers GetCallerIdentity for the identity those credentials belong to.
 * Tests switch it to misbehave (throttle, fail, redirect, answer too much or nonsense).
 * Point `AWS_ENDPOINT_URL_STS` (or the service's `stsEndpoint`) at `endpoint`.
 */
export interface TestIdentity {
  readonly credentials: AwsCredentialIdentity;
  readonly arn: string;
  readonly userId: string;
  readonly account: string;
}

const ACCOUNT = '111122223333';
/** Known test identities: a Lambda function's role session, a CI role session, an IAM user, another account. */
export const TEST_IDENTITIES = {
  lambda: {
    credentials: {
      accessKeyId: 'ASIAQLAMBDAEXAMPLE01',
      secretAccessKey: 'lambdaSecretKey/K7MDENG/bPxRfiCYEXAMPLEKEY',
      sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE-lambda-session-token',
    },
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/orders-fn-role/orders-fn`,
    userId: 'AROAQLAMBDAROLEID0001:orders-fn',
    account: ACCOUNT,
  },
  deployer: {
    credentials: {
      accessKeyId: 'ASIAQDEPLOYEXAMPLE02',
      secretAccessKey: 'deploySecretKey/K7MDENG/bPxRfiCYEXAMPLEKEY',
      sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE-deploy-session-token',
    },
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci-run-42`,
    userId: 'AROAQDEPLOYERROLEID02:ci-run-42',
    account: ACCOUNT,
  },
  user: {
    credentials: {
      accessKeyId: 'AKIAQUSEREXAMPLE0003',
      secretAccessKey: 'userSecretKey/K7MDENG/bPxRfiCYEXAMPLEKEY',
    },
    arn: `arn:aws:iam::${ACCOUNT}:user/ops/alice`,
    userId: 'AIDAQALICEUSERID0003',
    account: ACCOUNT,
  },
  stranger: {
    credentials: {
      accessKeyId: 'ASIAQSTRANGEREXAMP04',
      secretAccessKey: 'strangerSecret/K7MDENG/bPxRfiCYEXAMPLEKEY',
      sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE-stranger-session-token',
    },
    arn: 'arn:aws:sts::999988887777:assumed-role/admin/attacker',
    userId: 'AROAQSTRANGERROLEID4:attacker',
    account: '999988887777',
  },
} satisfies Record<string, TestIdentity>;

/** What the stand-in does with the next requests (default: behave as STS). */
export type StsBehaviour =
  | { readonly kind: 'sts' }
  | { readonly kind: 'throttle' }
  | { readonly kind: 'down' }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'oversized' }
  | { readonly kind: 'malformed'; readonly body: string }
  | { readonly kind: 'slow'; readonly ms: number }
  /** Verify as STS, then answer this identity instead (a lying or broken endpoint). */
  | { readonly kind: 'answer'; readonly arn: string; readonly userId: string; readonly account: string };

export interface StsEndpoint {
  readonly endpoint: string;
  /** Requests received, and how many passed signature verification. */
  readonly calls: { received: number; verified: number };
  behave(behaviour: StsBehaviour): void;
  close(): Promise<void>;
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

const errorXml = (type: string, code: string, message: string) =>
  `<ErrorResponse xmlns="${NS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`;
export const identityXml = (arn: string, userId: string, account: string) =>
  `<GetCallerIdentityResponse xmlns="${NS}">
  <GetCallerIdentityResult>
    <Arn>${arn}</Arn>
    <UserId>${userId}</UserId>
    <Account>${account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`;

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether the request's signature is the one the AWS SDK's signer makes with `credentials`. */
async function signatureHolds(
  request: IncomingMessage,
  body: string,
  credentials: AwsCredentialIdentity,
  parts: { date: string; region: string; service: string; signedHeaders: string[]; signature: string },
): Promise<boolean> {
  const url = new URL(request.url ?? '/', 'http://placeholder');
  const headers: Record<string, string> = {};
  for (const name of parts.signedHeaders) {
    const value = request.headers[name];
    if (typeof value !== 'string') return false;
    headers[name] = value;
  }
  const amzDate = headers['x-amz-date'];
  if (!amzDate) return false;
  const signingDate = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signer = new SignatureV4({
    service: parts.service,
    region: parts.region,
    credentials,
    sha256: NodeSha256,
  });
  const host = headers.host ?? '';
  const signed = await signer.sign(
    {
      method: request.method ?? 'POST',
      protocol: 'http:',
      hostname: host.split(':')[0] ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
    },
    { signingDate },
  );
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  return (
    expected.length === parts.signature.length &&
    timingSafeEqual(Buffer.from(expected), Buffer.from(parts.signature))
  );
}

export async function startStsEndpoint(identities: readonly TestIdentity[] = Object.values(TEST_IDENTITIES)) {
  const byKey = new Map(identities.map((identity) => [identity.credentials.accessKeyId, identity]));
  const calls = { received: 0, verified: 0 };
  let behaviour: StsBehaviour = { kind: 'sts' };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    calls.received++;
    const body = await readBody(request);
    const reply = (status: number, xml: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'text/xml', ...headers });
      response.end(xml);
    };
    if (behaviour.kind === 'throttle') return reply(400, errorXml('Sender', 'Throttling', 'Rate exceeded'));
    if (behaviour.kind === 'down') return reply(503, errorXml('Receiver', 'ServiceUnavailable', 'down'));
    if (behaviour.kind === 'redirect') return reply(302, '', { location: behaviour.location });
    if (behaviour.kind === 'oversized')
      return reply(200, `<GetCallerIdentityResponse>${'x'.repeat(100_000)}`);
    if (behaviour.kind === 'malformed') return reply(200, behaviour.body);
    const now = behaviour;
    if (now.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, now.ms));

    const auth = AUTHORIZATION.exec(String(request.headers.authorization ?? ''));
    if (!auth) return reply(403, errorXml('Sender', 'MissingAuthenticationToken', 'missing'));
    const [, accessKeyId, date, region, service, signedList, signature] = auth as unknown as string[];
    const identity = byKey.get(accessKeyId!);
    if (!identity || service !== 'sts')
      return reply(403, errorXml('Sender', 'InvalidClientTokenId', 'The security token is invalid.'));
    const token = request.headers['x-amz-security-token'];
    if ((identity.credentials.sessionToken ?? undefined) !== (typeof token === 'string' ? token : undefined))
      return reply(403, errorXml('Sender', 'InvalidClientTokenId', 'The security token is invalid.'));
    // As AWS: a declared payload hash must be the body's, or the signature covers another body.
    const declared = request.headers['x-amz-content-sha256'];
    if (declared !== undefined && declared !== createHash('sha256').update(body).digest('hex'))
      return reply(400, errorXml('Sender', 'SignatureDoesNotMatch', 'payload hash does not match'));
    const signedHeaders = signedList!.split(';');
    const holds = await signatureHolds(request, body, identity.credentials, {
      date: date!,
      region: region!,
      service: service!,
      signedHeaders,
      signature: signature!,
    });
    if (!holds) return reply(403, errorXml('Sender', 'SignatureDoesNotMatch', 'signature does not match'));
    calls.verified++;
    const params = new URLSearchParams(body || new URL(request.url ?? '/', 'http://x').search);
    if (params.get('Action') !== 'GetCallerIdentity')
      return reply(400, errorXml('Sender', 'InvalidAction', 'only GetCallerIdentity here'));
    if (behaviour.kind === 'answer')
      return reply(200, identityXml(behaviour.arn, behaviour.userId, behaviour.account));
    return reply(200, identityXml(identity.arn, identity.userId, identity.account));
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    behave: (next: StsBehaviour) => {
      behaviour = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  } satisfies StsEndpoint;
}

/** What a test signs: a GetCallerIdentity request, or anything an attacker would try instead. */
export interface RawSignedRequest {
  readonly url: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly credentials?: AwsCredentialIdentity;
  readonly region?: string;
  readonly service?: string;
  readonly date: Date;
  /** Header names left out of the signature (still sent). */
  readonly unsigned?: readonly string[];
  /** Sign an `x-amz-content-sha256` header too (default: no, as the SDK's STS client). */
  readonly payloadHashHeader?: boolean;
}

/** Signs any request with the AWS SDK's signer and returns its parts (lower-case header names). */
export async function signRaw(
  raw: RawSignedRequest,
): Promise<{ url: string; method: string; headers: Record<string, string>; body?: string }> {
  const url = new URL(raw.url);
  const signer = new SignatureV4({
    service: raw.service ?? 'sts',
    region: raw.region ?? 'us-east-1',
    credentials: raw.credentials ?? TEST_IDENTITIES.lambda.credentials,
    sha256: NodeSha256,
    applyChecksum: raw.payloadHashHeader ?? false,
  });
  const headers = { host: url.host, ...raw.headers };
  const signed = await signer.sign(
    {
      method: raw.method ?? 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      ...(raw.body === undefined ? {} : { body: raw.body }),
    },
    { signingDate: raw.date, unsignableHeaders: new Set(raw.unsigned ?? []) },
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) out[name.toLowerCase()] = String(value);
  return {
    url: raw.url,
    method: raw.method ?? 'POST',
    headers: out,
    ...(raw.body === undefined ? {} : { body: raw.body }),
  };
}
