import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler as tokenHandler } from '../../lambdas/token.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../lib/shared/claims.ts';
import { createMetricsWriter } from '../../lib/shared/emf.ts';
import { temporarilyUnavailable } from '../../lib/shared/errors.ts';
import { createLogger, tokenFingerprint } from '../../lib/shared/log.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import { apiEvent } from '../support/api-event.ts';

/**
 * What every request leaves behind, through the handlers Lambda runs: log lines that carry the
 * Lambda request id and API Gateway's request id (correlation_id) and never a raw token, and one
 * EMF request line by handler (5xx counted per route, dependency failures by dependency).
 */
let server: LocalServer;
let dataDir: string;
const logs: string[] = [];
const metrics: string[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sts-context-'));
  server = await startLocalServer({
    settings: loadSettings({ PORT: '0', STS_DATA_DIR: dataDir }),
    logger: createLogger('info', (line) => logs.push(line)),
    metrics: createMetricsWriter({ namespace: 'ServerlessSTS/test', sink: (line) => metrics.push(line) }),
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const exchange = (subjectToken: string) =>
  fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: TOKEN_TYPE.jwt,
      audience: 'https://api.example.local',
    }),
  });

describe('request context', () => {
  it('puts request_id and correlation_id on the audit line, and only the token fingerprint', async () => {
    logs.length = 0;
    const subject = await server.devIssuer.mint({ sub: 'alice', aud: server.url });
    const response = await exchange(subject);
    expect(response.status).toBe(200);
    const { access_token } = (await response.json()) as { access_token: string };
    const issued = logs.map((line) => JSON.parse(line)).find((line) => line.message === 'token.issued');
    expect(issued).toMatchObject({
      request_id: expect.stringMatching(/^local-/),
      correlation_id: expect.stringMatching(/^local-/),
      subject_token: tokenFingerprint(subject),
      sub: 'alice',
    });
    for (const line of logs) {
      expect(line).not.toContain(subject);
      expect(line).not.toContain(access_token);
      expect(line).not.toContain(access_token.split('.')[2]);
    }
  });

  it('keeps the ids on the error line of a 5xx, and counts it for the route and its dependency', async () => {
    logs.length = 0;
    metrics.length = 0;
    const failing = { exchange: async () => Promise.reject(temporarilyUnavailable('kms.sign.unavailable')) };
    const handler = tokenHandler(async () => ({
      ...server.runtime,
      exchange: { ...server.runtime.exchange, ...failing },
    }));
    const event = apiEvent({
      body: 'grant_type=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const response = await handler(event, { awsRequestId: 'lambda-1' } as never);
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(logs.at(-1)!)).toMatchObject({
      message: 'request.failed',
      reason: 'kms.sign.unavailable',
      request_id: 'lambda-1',
      correlation_id: event.requestContext.requestId,
    });
    expect(metrics.map((line) => JSON.parse(line))).toMatchObject([
      { handler: 'token', dependency: 'kms', Requests: 1, ServerErrors: 1, DependencyErrors: 1 },
    ]);
  });

  it('writes one request line per request, by handler, with the 5xx flag', async () => {
    metrics.length = 0;
    await fetch(`${server.url}/.well-known/jwks.json`);
    await exchange('not-a-token');
    const lines = metrics.map((line) => JSON.parse(line)).filter((line) => 'Requests' in line);
    expect(lines.map((line) => [line.handler, line.Requests, line.ServerErrors])).toEqual([
      ['jwks', 1, 0],
      ['token', 1, 0],
    ]);
    expect(lines[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['handler']]);
    expect(metrics.some((line) => line.includes('not-a-token'))).toBe(false);
  });
});
