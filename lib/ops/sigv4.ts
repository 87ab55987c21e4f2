// SigV4 for the prober's calls to the IAM-authorized introspection route (API Gateway checks
// `execute-api:Invoke`): @smithy/signature-v4, the signer the AWS SDK itself uses, with the
// credentials and region of an SDK client the prober already has (its KMS client), so the
// prober's identity is its Lambda role and nothing else.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { HttpRequest } from './probe.ts';

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** The SHA-256 (or HMAC-SHA-256 with a secret) that SignatureV4 expects, on node:crypto. */
class Sha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

/** AWS credentials, as an SDK client's `config.credentials` provides them. */
export type CredentialsProvider = () => Promise<{
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}>;

export interface SigV4Options {
  readonly region: string | (() => Promise<string>);
  readonly credentials: CredentialsProvider;
  /** Signing time (tests); default now. */
  readonly date?: () => Date;
}

/** An `authorize` for runProbe: the SigV4 headers (`authorization`, `x-amz-date`, ...) of a request. */
export function sigV4Authorizer(
  options: SigV4Options,
): (request: HttpRequest) => Promise<Record<string, string>> {
  return async (request) => {
    const region = typeof options.region === 'string' ? options.region : await options.region();
    const signer = new SignatureV4({
      service: 'execute-api',
      region,
      credentials: options.credentials,
      sha256: Sha256,
    });
    const url = new URL(request.url);
    const headers: Record<string, string> = { ...request.headers, host: url.host };
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: request.body,
      },
      options.date ? { signingDate: options.date() } : {},
    );
    const added: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (name !== 'host' && headers[name] === undefined) added[name] = value;
    }
    return added;
  };
}
