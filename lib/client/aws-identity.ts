// The caller's own AWS identity as a subject or actor token (`./client/aws`): a STS
// GetCallerIdentity request signed with the AWS SDK's SigV4 signer and the credentials of the
// default provider chain (in a Lambda function: its execution role), serialized as the service
// reads it (lib/shared/aws-request.ts). Every exchange gets a freshly signed request: the service
// accepts each one once. This module is the only client code that loads AWS SDK code; the plain
// client entry point does not import it.
//
//   import { awsIdentity } from 'serverless-sts/client/aws';
//   await client.exchange({ subjectToken: awsIdentity(), audience: 'https://api.example.com' });
import { createHash, createHmac, type Hash, type Hmac, randomBytes } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import {
  AWS_AUDIENCE_HEADER,
  AWS_NONCE_HEADER,
  AWS4_REQUEST_TOKEN_TYPE,
  GET_CALLER_IDENTITY,
  serializeAwsRequest,
} from '../shared/aws-request.ts';
import type { TokenSource } from './client.ts';

export interface AwsIdentityOptions {
  /**
   * The service's issuer URL, signed into the `x-sts-audience` header; default: the endpoint of
   * the StsClient that presents it. Set it when the issuer differs from the endpoint.
   */
  readonly audience?: string;
  /** Region of the STS endpoint; default `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`. */
  readonly region?: string;
  /** STS endpoint; default `AWS_ENDPOINT_URL_STS`, else `https://sts.<region>.amazonaws.com`. */
  readonly endpoint?: string;
  /** Credentials; default: the AWS SDK's default provider chain (environment, profile, container, IMDS). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Epoch milliseconds, for `X-Amz-Date` (tests freeze it). */
  readonly clock?: () => number;
  /** Environment to read defaults from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** SHA-256 and HMAC-SHA256 from node:crypto, in the shape the AWS SDK's signer asks for. */
export class NodeSha256 {
  readonly #hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

let sources = 0;

/**
 * Signs one GetCallerIdentity request for `audience` and returns it serialized: the token to
 * present with type `urn:ietf:params:aws:token-type:aws4_request`.
 */
export async function signCallerIdentity(
  options: AwsIdentityOptions & { readonly audience: string },
): Promise<string> {
  const env = options.env ?? process.env;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const endpoint = new URL(
    options.endpoint ?? env.AWS_ENDPOINT_URL_STS ?? `https://sts.${region}.amazonaws.com`,
  );
  const body = new URLSearchParams(GET_CALLER_IDENTITY).toString();
  const signer = new SignatureV4({
    service: 'sts',
    region,
    credentials: options.credentials ?? defaultProvider(),
    sha256: NodeSha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port ? { port: Number(endpoint.port) } : {}),
      path: '/',
      query: {},
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        [AWS_AUDIENCE_HEADER]: options.audience,
        [AWS_NONCE_HEADER]: randomBytes(16).toString('base64url'),
      },
      body,
    },
    { signingDate: new Date((options.clock ?? Date.now)()) },
  );
  return serializeAwsRequest({
    url: `${endpoint.origin}/`,
    method: 'POST',
    headers: Object.entries(signed.headers).map(([key, value]) => ({ key, value: String(value) })),
    body,
  });
}

/**
 * The caller's AWS identity as a token source for `StsClient.exchange` (`subjectToken` or
 * `actorToken`) and the delegation middleware (`actorToken`): each exchange signs a new request.
 */
export function awsIdentity(options: AwsIdentityOptions = {}): TokenSource {
  // One cache identity per source with its own credentials; sources on the default chain share one.
  const who = options.credentials === undefined ? 'default-chain' : `source-${++sources}`;
  // The chain is resolved once and memoized (refreshed before expiry) for every request it signs.
  const credentials = options.credentials ?? defaultProvider();
  return {
    tokenType: AWS4_REQUEST_TOKEN_TYPE,
    cacheId: `aws4_request:${options.endpoint ?? ''}:${options.region ?? ''}:${options.audience ?? ''}:${who}`,
    token: ({ endpoint }) =>
      signCallerIdentity({ ...options, credentials, audience: options.audience ?? endpoint }),
  };
}
