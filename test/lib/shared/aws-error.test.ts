// The one AWS error classifier (lib/shared/aws-error.ts): the DynamoDB store and the KMS signer
// translate the same failure the same way, so their retryable lists cannot drift apart again.

import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { KMSInternalException } from '@aws-sdk/client-kms';
import { describe, expect, it } from 'vitest';
import { awsError, isRetryableAwsError } from '../../../lib/shared/aws-error.ts';
import { OAuthError, temporarilyUnavailable } from '../../../lib/shared/errors.ts';
import { kmsError } from '../../../lib/signers/kms-error.ts';
import { dynamoError } from '../../../lib/stores/dynamodb.ts';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const named = (name: string, status = 400) =>
  Object.assign(new Error('sdk detail'), { name, ...meta(status) });
const withCode = (code: string) => Object.assign(new Error('socket detail'), { code });

const RETRYABLE: [string, unknown][] = [
  ['ThrottlingException', named('ThrottlingException')],
  [
    'ProvisionedThroughputExceededException',
    new ProvisionedThroughputExceededException({ message: 'x', ...meta(400) }),
  ],
  ['KMSInternalException', new KMSInternalException({ message: 'x', ...meta(500) })],
  ['TransactionConflictException', named('TransactionConflictException')],
  ['DisabledException', named('DisabledException')],
  ['a bare HTTP 429', named('SomethingNew', 429)],
  ['a bare HTTP 503', named('SomethingNew', 503)],
  ['TimeoutError', named('TimeoutError', 0)],
  ['AbortError', named('AbortError', 0)],
  ...[
    'ECONNREFUSED',
    'ECONNRESET',
    'ECONNABORTED',
    'ETIMEDOUT',
    'EPIPE',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
  ].map((code): [string, unknown] => [code, withCode(code)]),
];
const NOT_RETRYABLE: [string, unknown][] = [
  ['AccessDeniedException', named('AccessDeniedException')],
  ['ValidationException', named('ValidationException')],
  ['ResourceNotFoundException', named('ResourceNotFoundException')],
  ['a TypeError', new TypeError('bug')],
  ['undefined', undefined],
  ['a string', 'oops'],
];

describe('awsError', () => {
  it.each(RETRYABLE)('%s is retryable: 503 for DynamoDB and KMS alike', (_what, error) => {
    expect(isRetryableAwsError(error)).toBe(true);
    for (const [translated, service] of [
      [dynamoError('put_token', error), 'dynamodb'],
      [kmsError('sign', error), 'kms'],
    ] as const) {
      expect(translated).toMatchObject({ status: 503, code: 'temporarily_unavailable' });
      expect(translated.reason).toBe(`${service}.${service === 'kms' ? 'sign' : 'put_token'}.unavailable`);
      expect(translated.retryAfter).toBeGreaterThan(0);
      expect(translated.cause).toBe(error);
    }
  });

  it.each(NOT_RETRYABLE)('%s is not retryable: a bare 500', (_what, error) => {
    expect(isRetryableAwsError(error)).toBe(false);
    expect(dynamoError('get_token', error)).toMatchObject({
      status: 500,
      reason: 'dynamodb.get_token.failed',
    });
    expect(kmsError('get_public_key', error)).toMatchObject({
      status: 500,
      reason: 'kms.get_public_key.failed',
    });
  });

  it('passes the service’s own errors through unchanged', () => {
    const own = temporarilyUnavailable('jwks.unavailable');
    expect(awsError('dynamodb', 'put_seen', own)).toBe(own);
    expect(awsError('kms', 'sign', own)).toBeInstanceOf(OAuthError);
  });
});
