// IAM callers as subject or actor (SigV4): a presented, signed STS GetCallerIdentity request is
// checked (aws-request-check.ts), forwarded to STS with a deadline and a size limit, and STS's
// XML answer is read with a real XML parser (the AWS SDK's own). The caller's ARN becomes `sub`:
// an assumed-role ARN (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) becomes its role
// ARN (`arn:aws:iam::<account>:role/<role>`; STS drops role paths, so policies match role ARNs
// without them), an IAM user ARN stays as it is; the root user and federated users are refused.
// The account, session name, caller ARN and principal id become claims a policy can match and
// copy. The account must be listed by a `"type": "aws"` trusted issuer. STS down, throttling or
// answering nonsense is 503 with Retry-After; a refused signature is 400.
import { parseXML } from '@aws-sdk/xml-builder';
import type { AwsIssuerConfig, Config } from '../config/config.ts';
import { AWS_IDENTITY_ISSUER } from '../shared/aws-request.ts';
import { readBoundedText } from '../shared/bounded-body.ts';
import type { Clock } from '../shared/clock.ts';
import { epochSeconds } from '../shared/clock.ts';
import { callTimeout } from '../shared/deadline.ts';
import { invalidRequest, type OAuthError, temporarilyUnavailable } from '../shared/errors.ts';
import type { TokenCheck } from '../shared/reasons.ts';
import { AwsRequestRefused, type CheckedAwsRequest, checkAwsRequest } from './aws-request-check.ts';

/** Facts derived from a GetCallerIdentity answer: claims a policy can match and copy. */
export type AwsIdentityFacts = {
  readonly sub: string;
  readonly aws_account: string;
  /** The ARN STS answered, before mapping (the assumed-role ARN for a role session). */
  readonly aws_arn: string;
  /** STS `UserId`: `AROA...:<session>` for a role session, `AIDA...` for a user. */
  readonly aws_principal_id: string;
  readonly aws_principal_type: 'AssumedRole' | 'IAMUser';
  /** Role session name (for a Lambda function: the function's name). */
  readonly aws_session_name?: string;
};

/** The claims of a verified IAM caller, as policies see them. */
export type AwsIdentityClaims = AwsIdentityFacts & {
  readonly iss: string;
  /** X-Amz-Date of the signed request. */
  readonly iat: number;
  /** The last moment the signed request is acceptable (X-Amz-Date + maxRequestAge). */
  readonly exp: number;
};

export interface AwsIdentity {
  readonly issuer: AwsIssuerConfig;
  readonly claims: AwsIdentityClaims;
  /** Replay key (`SEEN#aws4_request#<requestHash>`) and how long to keep it (epoch seconds). */
  readonly replay: { readonly issuer: string; readonly id: string; readonly until: number };
}

export interface AwsIdentityDeps {
  readonly config: Config;
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** `AWS_ENDPOINT_URL_STS`: replaces the allow-list of STS endpoints (tests, private endpoints). */
  readonly stsEndpoint?: string | undefined;
  /** Deadline of the STS call in milliseconds (default 3000), cut to the invocation's remaining time. */
  readonly stsTimeoutMs?: number;
}

type StsFault = 'unreachable' | 'throttled' | 'failed' | 'answer_too_large' | 'answer_malformed';

export type AwsIdentityVerifier = (token: string, role: 'subject' | 'actor') => Promise<AwsIdentity>;

/** STS answers are about 500 bytes; anything past this is not a GetCallerIdentity answer. */
export const MAX_STS_ANSWER_BYTES = 16_384;
/** Namespace of the replay records of signed requests (`SEEN#aws4_request#<sha256 of signature>`). */
export const AWS_REPLAY_ISSUER = 'aws4_request';
const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
]);
const PARTITION = '(aws|aws-cn|aws-us-gov)';
const NAME = '[\\w+=,.@-]';
const ASSUMED_ROLE = new RegExp(
  `^arn:${PARTITION}:sts::(\\d{12}):assumed-role/(${NAME}{1,64})/(${NAME}{2,64})$`,
);
const IAM_USER = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):user/(?:[\\x21-\\x7e]{1,510}/)?${NAME}{1,64}$`);
const ROLE_ID = /^AROA[A-Z0-9]{12,124}$/;
const USER_ID = /^AIDA[A-Z0-9]{12,124}$/;

/** The text of element `path` in a parsed XML document, when it is one string. */
function xmlText(document: unknown, path: readonly string[]): string | undefined {
  let current = document;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    if (!Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' ? current : undefined;
}

/** Maps STS's `Arn`, `UserId` and `Account` to claims; undefined when they do not fit together. */
export function identityClaims(arn: string, userId: string, account: string): AwsIdentityFacts | undefined {
  const role = ASSUMED_ROLE.exec(arn);
  if (role) {
    const [, partition, arnAccount, roleName, session] = role as unknown as string[];
    const [roleId, userSession, ...extra] = userId.split(':');
    // The UserId names the same session as the ARN: `<role id>:<session name>`.
    if (arnAccount !== account || extra.length > 0 || userSession !== session || !ROLE_ID.test(roleId ?? ''))
      return undefined;
    return {
      sub: `arn:${partition}:iam::${account}:role/${roleName}`,
      aws_account: account,
      aws_arn: arn,
      aws_principal_id: userId,
      aws_principal_type: 'AssumedRole',
      aws_session_name: session!,
    };
  }
  const user = IAM_USER.exec(arn);
  if (user) {
    if (user[2] !== account || !USER_ID.test(userId)) return undefined;
    return {
      sub: arn,
      aws_account: account,
      aws_arn: arn,
      aws_principal_id: userId,
      aws_principal_type: 'IAMUser',
    };
  }
  return undefined;
}

export function createAwsIdentityVerifier(deps: AwsIdentityDeps): AwsIdentityVerifier {
  const { config, clock } = deps;
  const doFetch = deps.fetch ?? fetch;
  const timeoutMs = deps.stsTimeoutMs ?? 3000;

  return async (token, role) => {
    const refuse = (reason: TokenCheck, cause?: unknown): OAuthError =>
      invalidRequest(`${role}_token could not be verified`, { reason: `${role}_token.${reason}`, cause });
    const unavailable = (reason: StsFault, cause?: unknown, retryAfter = 1): OAuthError =>
      temporarilyUnavailable(`aws_sts.${reason}`, { cause, retryAfter });

    if (config.awsIssuers.length === 0) throw refuse('untrusted_issuer');
    if (Buffer.byteLength(token) > config.maxTokenBytes) throw refuse('too_large');
    const now = epochSeconds(clock);
    let request: CheckedAwsRequest;
    try {
      request = checkAwsRequest(token, {
        audience: config.issuer,
        issuers: config.awsIssuers,
        stsEndpoint: deps.stsEndpoint,
        now,
        clockSkew: config.clockSkew,
      });
    } catch (error) {
      if (error instanceof AwsRequestRefused) throw refuse(error.reason);
      throw error;
    }

    let response: Response;
    try {
      response = await doFetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(callTimeout(timeoutMs)),
      });
    } catch (error) {
      throw unavailable('unreachable', error);
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw refuse('aws_redirect');
    }
    const text = await readBoundedText(response, MAX_STS_ANSWER_BYTES).catch((error: unknown) => {
      throw unavailable('unreachable', error);
    });
    if (text === undefined) throw unavailable('answer_too_large');
    let document: unknown;
    try {
      document = parseXML(text);
    } catch (error) {
      if (response.status >= 500) throw unavailable('failed', error);
      throw unavailable('answer_malformed', error);
    }
    if (response.status !== 200) {
      const code = xmlText(document, ['ErrorResponse', 'Error', 'Code']);
      if (response.status >= 500 || response.status === 429 || THROTTLED.has(code ?? '')) {
        throw unavailable(response.status >= 500 ? 'failed' : 'throttled', code, 2);
      }
      // SignatureDoesNotMatch, InvalidClientTokenId, ExpiredToken, AccessDenied, ...
      throw refuse('aws_refused', code);
    }
    const result = ['GetCallerIdentityResponse', 'GetCallerIdentityResult'];
    const arn = xmlText(document, [...result, 'Arn']);
    const userId = xmlText(document, [...result, 'UserId']);
    const account = xmlText(document, [...result, 'Account']);
    if (arn === undefined || userId === undefined || account === undefined)
      throw unavailable('answer_malformed');
    const claims = identityClaims(arn, userId, account);
    if (!claims)
      throw refuse(/:root$|federated-user/.test(arn) ? 'aws_principal_kind' : 'aws_identity_malformed');

    const host = new URL(request.url).hostname;
    const issuer = config.awsIssuers.find(
      (entry) =>
        entry.accounts.includes(account) &&
        (deps.stsEndpoint !== undefined ||
          (host === 'sts.amazonaws.com'
            ? entry.globalEndpoint
            : !entry.regions || entry.regions.some((allowed) => host.startsWith(`sts.${allowed}.`)))),
    );
    if (!issuer) throw refuse('aws_account_not_allowed');
    const exp = request.signedAt + issuer.maxRequestAge;
    if (exp + config.clockSkew < now) throw refuse('aws_date_expired');
    return {
      issuer,
      claims: { iss: AWS_IDENTITY_ISSUER, ...claims, iat: request.signedAt, exp },
      replay: { issuer: AWS_REPLAY_ISSUER, id: request.requestHash, until: exp + config.clockSkew },
    };
  };
}
