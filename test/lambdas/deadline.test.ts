import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../lambdas/admin-revoke.ts';
import { RESPONSE_RESERVE_MS } from '../../lambdas/define-handler.ts';
import type { Result } from '../../lambdas/http.ts';
import { createRuntime } from '../../lambdas/runtime.ts';
import { parseConfig } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { callTimeout, withDeadline } from '../../lib/shared/deadline.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import { DynamoStore } from '../../lib/stores/dynamodb.ts';
import { apiEvent } from '../support/api-event.ts';

// Issue 18 item 5: the per-call deadlines come from the invocation's remaining time, so a stuck
// dependency makes the service answer 503 with Retry-After itself, before Lambda's timeout would
// cut it off with API Gateway's bare 500.

describe('callTimeout', () => {
  it('keeps a call’s own limit without a deadline, and cuts it to the time left under one', async () => {
    expect(callTimeout(2000)).toBe(2000);
    const now = Date.now();
    expect(await withDeadline(now + 700, async () => callTimeout(2000, now))).toBe(700);
    expect(await withDeadline(now + 5000, async () => callTimeout(2000, now))).toBe(2000);
    expect(await withDeadline(now - 10, async () => callTimeout(2000, now))).toBe(0);
    // Each request keeps its own deadline across awaits, even interleaved.
    const [a, b] = await Promise.all([
      withDeadline(now + 100, async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return callTimeout(2000, now);
      }),
      withDeadline(now + 900, async () => callTimeout(2000, now)),
    ]);
    expect([a, b]).toEqual([100, 900]);
  });
});

describe('a handler on a stuck DynamoDB', () => {
  /** A DynamoDB client that never answers: it only gives up when the call's signal aborts. */
  const stuck = {
    send: (_command: unknown, options: { abortSignal?: AbortSignal }) =>
      new Promise((_resolve, reject) => {
        options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal!.reason), {
          once: true,
        });
      }),
  } as unknown as DynamoDBClient;

  async function invoke(remainingMs: number): Promise<{ result: Result; elapsed: number }> {
    const runtime = createRuntime({
      settings: loadSettings({ STS_LOG_LEVEL: 'silent' }),
      config: parseConfig({
        issuer: 'https://sts.example.com',
        trustedIssuers: [{ name: 'ext', issuer: 'https://issuer.example.com', algorithms: ['ES256'] }],
        policies: [{ name: 'p', issuer: 'ext', subject: '*', audiences: ['https://api.example.com'] }],
      }),
      signer: await createLocalSigner(generateSigningKey('ES256'), 'ES256'),
      // The store's own limit (5 s) is longer than the invocation has left.
      store: new DynamoStore({ client: stuck, tableName: 'sts', timeoutMs: 5000 }),
    });
    const handler = createHandler(async () => runtime);
    const deadline = Date.now() + remainingMs;
    const context = { getRemainingTimeInMillis: () => deadline - Date.now() } as Context;
    const started = Date.now();
    const event = apiEvent({
      path: '/admin/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'sub=alice',
    });
    const result = (await handler(event, context)) as Result;
    return { result, elapsed: Date.now() - started };
  }

  it('answers 503 temporarily_unavailable with Retry-After before the invocation runs out', async () => {
    const { result, elapsed } = await invoke(1500);
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['Retry-After']).toBeDefined();
    expect(JSON.parse(result.body!)).toMatchObject({ error: 'temporarily_unavailable' });
    // It gave up RESPONSE_RESERVE_MS before the end, not after the store's 5 s.
    expect(elapsed).toBeGreaterThanOrEqual(1500 - RESPONSE_RESERVE_MS - 50);
    expect(elapsed).toBeLessThan(1500);
  });
});
