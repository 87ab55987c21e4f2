// The wire format of an AWS IAM identity presented as a subject or actor token, shared by the
// service (which checks and forwards it) and the client SDK (which builds it). As Google STS
// accepts AWS identities: the token is the URL-encoded JSON of a signed STS GetCallerIdentity
// request, `{ url, method, headers: [{ key, value }], body? }`, with token type
// `urn:ietf:params:aws:token-type:aws4_request`.
//
// The request must be SigV4-signed over the header `x-sts-audience`, whose value is this
// service's issuer URL: a request signed for another service (another STS, Vault with its own
// `X-Vault-AWS-IAM-Server-ID`, Google with `x-goog-cloud-target-resource`) does not carry it, and
// one signed for this service cannot be replayed against another audience that checks its own.
import { TOKEN_TYPE } from './claims.ts';

/** `subject_token_type` / `actor_token_type` of a serialized, signed GetCallerIdentity request. */
export const AWS4_REQUEST_TOKEN_TYPE = TOKEN_TYPE.awsRequest;

/** The signed header binding the request to one service: its value is that service's issuer URL. */
export const AWS_AUDIENCE_HEADER = 'x-sts-audience';

/**
 * A random value the client signs into each request: SigV4 is deterministic, so two requests
 * signed in the same second would otherwise be the same request, and the second a replay.
 */
export const AWS_NONCE_HEADER = 'x-sts-nonce';

/** The query of the one action the service forwards. */
export const GET_CALLER_IDENTITY = { Action: 'GetCallerIdentity', Version: '2011-06-15' } as const;

/** `iss` of the claims the service derives from a GetCallerIdentity answer. */
export const AWS_IDENTITY_ISSUER = 'https://sts.amazonaws.com';

export interface SerializedAwsRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: ReadonlyArray<{ readonly key: string; readonly value: string }>;
  readonly body?: string;
}

/** The token text of a signed request: URL-encoded JSON, as Google STS reads it. */
export function serializeAwsRequest(request: SerializedAwsRequest): string {
  return encodeURIComponent(JSON.stringify(request));
}
