// The checks a presented AWS identity (a serialized, SigV4-signed STS GetCallerIdentity request;
// lib/shared/aws-request.ts) passes before the service sends anything anywhere: strict JSON
// shape; POST to an allow-listed STS endpoint over https (the global one, a regional one, or only
// `AWS_ENDPOINT_URL_STS` when that is set, for tests); the action GetCallerIdentity and nothing
// else; only headers STS needs; an `Authorization` of AWS4-HMAC-SHA256 for service `sts` whose
// signed headers include `host`, `x-amz-date` and the audience header; the audience header equal
// to this service's issuer; and `X-Amz-Date` within the allowed window. STS verifies the
// signature itself; these checks make sure what it verifies is the one request we mean.
import { createHash } from 'node:crypto';
import type { AwsIssuerConfig } from '../config/config.ts';
import { AWS_AUDIENCE_HEADER, AWS_NONCE_HEADER, GET_CALLER_IDENTITY } from '../shared/aws-request.ts';
import type { TokenCheck } from '../shared/reasons.ts';

/** A request that passed every check, ready to forward. */
export interface CheckedAwsRequest {
  readonly url: string;
  readonly host: string;
  /** Headers to forward (lower-case names; `host` and `content-length` are set by the transport). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** Epoch seconds of `X-Amz-Date`. */
  readonly signedAt: number;
  /** SHA-256 of the signature, hex: the request's identity for replay detection. */
  readonly requestHash: string;
}

export interface AwsRequestCheckOptions {
  /** This service's issuer: the value the audience header must carry. */
  readonly audience: string;
  /** The `"type": "aws"` trusted issuers; an endpoint or age any of them accepts passes here. */
  readonly issuers: readonly AwsIssuerConfig[];
  /** `AWS_ENDPOINT_URL_STS`: when set, the only endpoint accepted. */
  readonly stsEndpoint: string | undefined;
  /** Epoch seconds. */
  readonly now: number;
  /** Seconds. */
  readonly clockSkew: number;
}

/** A refusal with its private reason (the caller turns it into `<role>_token.<reason>`). */
export class AwsRequestRefused extends Error {
  override readonly name = 'AwsRequestRefused';
  constructor(readonly reason: TokenCheck) {
    super(reason);
  }
}

const refuse = (reason: TokenCheck): never => {
  throw new AwsRequestRefused(reason);
};

/** Headers a GetCallerIdentity request may carry; any other is refused (no `x-amz-target`, ...). */
const ALLOWED_HEADERS = new Set([
  'authorization',
  'host',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
  'content-type',
  'content-length',
  'accept',
  'user-agent',
  AWS_AUDIENCE_HEADER,
  AWS_NONCE_HEADER,
]);
const FORM = /^application\/x-www-form-urlencoded(; ?charset=utf-8)?$/i;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request, ?SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+)*), ?Signature=([0-9a-f]{64})$/;
/** Standard AWS partitions' STS hosts: global, regional, and China's regional ones. */
const REGIONAL = /^sts\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(\.cn)?$/;
const GLOBAL_HOST = 'sts.amazonaws.com';

/** The region a host signs for, when it is an allowed STS endpoint for some issuer; else undefined. */
function endpointRegion(url: URL, options: AwsRequestCheckOptions): string | null | undefined {
  if (options.stsEndpoint !== undefined) {
    // The override replaces the allow-list (as it replaces the endpoint of the AWS SDK's own client).
    return url.origin === new URL(options.stsEndpoint).origin ? null : undefined;
  }
  if (url.protocol !== 'https:' || url.port !== '') return undefined;
  if (url.hostname === GLOBAL_HOST)
    return options.issuers.some((issuer) => issuer.globalEndpoint) ? 'us-east-1' : undefined;
  const region = REGIONAL.exec(url.hostname)?.[1];
  if (!region) return undefined;
  return options.issuers.some((issuer) => !issuer.regions || issuer.regions.includes(region))
    ? region
    : undefined;
}

/** Whether a form-encoded text is exactly `Action=GetCallerIdentity&Version=2011-06-15` (any order). */
function isGetCallerIdentity(text: string): boolean {
  const params = new URLSearchParams(text);
  const keys = [...params.keys()];
  return (
    keys.length === 2 &&
    new Set(keys).size === 2 &&
    params.get('Action') === GET_CALLER_IDENTITY.Action &&
    params.get('Version') === GET_CALLER_IDENTITY.Version
  );
}

/** Reads the serialized JSON strictly: only `url`, `method`, `headers` and an optional `body`. */
function readShape(token: string): {
  url: string;
  method: string;
  headers: Map<string, string>;
  body?: string;
} {
  let raw: unknown;
  try {
    raw = JSON.parse(decodeURIComponent(token));
  } catch {
    return refuse('aws_malformed');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return refuse('aws_malformed');
  const { url, method, headers, body, ...rest } = raw as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return refuse('aws_malformed');
  if (typeof url !== 'string' || typeof method !== 'string' || !Array.isArray(headers))
    return refuse('aws_malformed');
  if (body !== undefined && typeof body !== 'string') return refuse('aws_malformed');
  const map = new Map<string, string>();
  for (const header of headers) {
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      return refuse('aws_malformed');
    const { key, value, ...more } = header as Record<string, unknown>;
    if (Object.keys(more).length > 0 || typeof key !== 'string' || typeof value !== 'string')
      return refuse('aws_malformed');
    const name = key.toLowerCase();
    if (map.has(name)) return refuse('aws_header_duplicated');
    if (!ALLOWED_HEADERS.has(name)) return refuse('aws_header_not_allowed');
    if (/[\r\n\0]/.test(value)) return refuse('aws_malformed');
    map.set(name, value);
  }
  return { url, method, headers: map, ...(body === undefined ? {} : { body }) };
}

/** Epoch seconds of an `X-Amz-Date` (`20300101T000000Z`), or undefined. */
function amzDate(text: string): number | undefined {
  const parts = AMZ_DATE.exec(text);
  if (!parts) return undefined;
  const [, y, mo, d, h, mi, s] = parts.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
    return undefined;
  return ms / 1000;
}

/**
 * Checks a presented AWS identity without any network call; throws `AwsRequestRefused` with the
 * precise reason.
 */
export function checkAwsRequest(token: string, options: AwsRequestCheckOptions): CheckedAwsRequest {
  const { url: urlText, method, headers, body } = readShape(token);
  if (method !== 'POST') refuse('aws_method');

  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return refuse('aws_endpoint');
  }
  if (url.username || url.password || url.hash || urlText.includes('#')) refuse('aws_endpoint');
  const region = endpointRegion(url, options);
  if (region === undefined || url.pathname !== '/') refuse('aws_endpoint');

  // The action: in the query or in a form body, never both, never with anything else.
  const query = url.search.replace(/^\?/, '');
  if (/(^|&)X-Amz-/i.test(query)) refuse('aws_query_signature');
  const bodyText = body ?? '';
  if (query !== '' && bodyText !== '') refuse('aws_action');
  if (!isGetCallerIdentity(query !== '' ? query : bodyText)) refuse('aws_action');
  if (bodyText !== '' && !FORM.test(headers.get('content-type') ?? '')) refuse('aws_action');

  if (headers.get('host') !== url.host) refuse('aws_host_header');
  const audience = headers.get(AWS_AUDIENCE_HEADER);
  if (audience === undefined) refuse('aws_audience_missing');
  if (audience !== options.audience) refuse('aws_audience_mismatch');

  const dateText = headers.get('x-amz-date') ?? '';
  const signedAt = amzDate(dateText);
  if (signedAt === undefined) refuse('aws_date');
  const maxAge = Math.max(...options.issuers.map((issuer) => issuer.maxRequestAge));
  if (signedAt! > options.now + options.clockSkew) refuse('aws_date_future');
  if (signedAt! < options.now - maxAge - options.clockSkew) refuse('aws_date_expired');

  const authorization = AUTHORIZATION.exec(headers.get('authorization') ?? '');
  if (!authorization) return refuse('aws_authorization');
  const [, , scopeDate, scopeRegion, service, signedList, signature] = authorization as unknown as string[];
  if (service !== 'sts') refuse('aws_authorization');
  if (scopeDate !== dateText.slice(0, 8)) refuse('aws_authorization');
  if (region !== null && scopeRegion !== region) refuse('aws_region');
  const signed = new Set(signedList!.split(';'));
  // The audience header must be covered by the signature, or anyone could set it.
  if (!signed.has(AWS_AUDIENCE_HEADER)) refuse('aws_audience_unsigned');
  for (const name of [
    'host',
    'x-amz-date',
    ...(headers.has('x-amz-security-token') ? ['x-amz-security-token'] : []),
  ])
    if (!signed.has(name)) refuse('aws_authorization');
  for (const name of signed) if (!headers.has(name)) refuse('aws_authorization');
  const payloadHash = headers.get('x-amz-content-sha256');
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(bodyText).digest('hex'))
    refuse('aws_authorization');

  const forwarded: Record<string, string> = {};
  for (const [name, value] of headers)
    if (name !== 'host' && name !== 'content-length') forwarded[name] = value;
  return {
    url: url.href,
    host: url.host,
    headers: forwarded,
    body: bodyText === '' ? undefined : bodyText,
    signedAt: signedAt!,
    requestHash: createHash('sha256').update(signature!).digest('hex'),
  };
}
