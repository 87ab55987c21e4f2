import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_ACCESS } from '../../cdk/handler-access.ts';
import { findRoute, HANDLERS } from '../../lambdas/routes.ts';
import { generateDpopKey, signDpopProof } from '../../lib/client/dpop.ts';
import { parseConfig } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { DynamoStore } from '../../lib/stores/dynamodb.ts';
import { ensureTable } from '../../lib/stores/dynamodb-table.ts';
import {
  type EmbeddedDynamo,
  localDynamoClient,
  startEmbeddedDynamo,
} from '../../local/embedded-dynamodb.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { type Synthesized, synthStack } from './synth.ts';

// Issue 18 item 3: every DynamoDB statement of every function is bound to the key prefixes of
// the item kinds it needs (`dynamodb:LeadingKeys`), and updates to the one attribute they set
// (`dynamodb:Attributes`). Proven on the template, and against the requests the real handlers
// send: each route's DynamoDB calls, recorded on the wire to dynalite, must be allowed by its
// function's statements; writes outside a function's prefixes must not.

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, string[]>>;
}
interface TableRequest {
  readonly action: string;
  readonly leadingKeys: string[];
  readonly attributes: string[];
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const likeToRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
  );

/** The table statements of a handler's role in the synthesized template. */
function tableStatements(synth: Synthesized, handler: string): Statement[] {
  const role = synth.stack.getLogicalId(
    synth.stack.service.functions.get(handler)!.role!.node.defaultChild as CfnElement,
  );
  const table = synth.stack.getLogicalId(synth.stack.service.table.node.defaultChild as CfnElement);
  return Object.values(synth.template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((statement) => JSON.stringify(statement.Resource).includes(table));
}

/**
 * IAM's verdict for one request, for the condition operators the construct writes. ForAllValues
 * holds when every request value matches one of the statement's values (and when there are none,
 * which is why only item-level actions, which always carry a key, are granted).
 */
function allowed(statements: Statement[], request: TableRequest): boolean {
  return statements.some((statement) => {
    if (statement.Effect !== 'Allow' || !list(statement.Action).includes(request.action)) return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, values]) => {
        const actual = key === 'dynamodb:LeadingKeys' ? request.leadingKeys : request.attributes;
        if (key !== 'dynamodb:LeadingKeys' && key !== 'dynamodb:Attributes')
          throw new Error(`unexpected ${key}`);
        if (operator === 'ForAllValues:StringLike')
          return actual.every((value) => values.some((pattern) => likeToRegExp(pattern).test(value)));
        if (operator === 'ForAllValues:StringEquals') return actual.every((value) => values.includes(value));
        throw new Error(`unexpected condition operator ${operator}`);
      }),
    );
  });
}

/** Top-level attribute names an expression names (placeholders resolved, functions and values skipped). */
function expressionAttributes(expression: string | undefined, names: Record<string, string> = {}): string[] {
  if (!expression) return [];
  const functions = new Set([
    'if_not_exists',
    'attribute_exists',
    'attribute_not_exists',
    'attribute_type',
    'begins_with',
    'contains',
    'size',
    'list_append',
  ]);
  const keywords = new Set(['SET', 'REMOVE', 'ADD', 'DELETE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN']);
  return [...expression.matchAll(/(?<![:\w])#?[A-Za-z_][\w]*/g)]
    .map(([word]) => (word.startsWith('#') ? names[word]! : word))
    .filter((word) => !functions.has(word) && !keywords.has(word));
}

/** The IAM request context of a recorded DynamoDB command. */
function toRequest(command: string, input: Record<string, unknown>): TableRequest {
  const action = `dynamodb:${command.replace(/Command$/, '')}`;
  const key = (input.Key ?? input.Item) as Record<string, { S?: string }>;
  const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
  const attributes =
    action === 'dynamodb:PutItem'
      ? Object.keys(input.Item as object)
      : [
          ...Object.keys(input.Key as object),
          ...expressionAttributes(input.UpdateExpression as string | undefined, names),
          ...expressionAttributes(input.ConditionExpression as string | undefined, names),
          ...expressionAttributes(input.ProjectionExpression as string | undefined, names),
        ];
  return { action, leadingKeys: [key.pk!.S!], attributes: [...new Set(attributes)] };
}

describe('table statements on the template (item 3)', () => {
  const synth = synthStack();

  it.each(HANDLERS)('binds every table statement of %s to its item kinds', (handler) => {
    const statements = tableStatements(synth, handler);
    const grants = HANDLER_ACCESS[handler]!.table;
    expect(statements).toHaveLength(grants.length);
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      expect(
        statement.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']?.length,
      ).toBeGreaterThan(0);
      for (const pattern of statement.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys']!) {
        expect(pattern).toMatch(/^[A-Z]+#\*$/);
      }
    }
  });

  it('writes the expected prefixes and attributes', () => {
    const conditions = (handler: string) =>
      tableStatements(synth, handler).map((s) => [list(s.Action), s.Condition]);
    expect(conditions('token')).toEqual([
      [
        ['dynamodb:PutItem'],
        { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*', 'SEEN#*'] } },
      ],
      [
        ['dynamodb:GetItem'],
        { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*', 'SUBJECT#*'] } },
      ],
    ]);
    expect(conditions('revoke')).toEqual([
      [
        ['dynamodb:UpdateItem'],
        {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*'] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'revokedAt'] },
        },
      ],
    ]);
    expect(conditions('admin-revoke')).toEqual([
      [
        ['dynamodb:UpdateItem'],
        {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['TOKEN#*'] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'revokedAt'] },
        },
      ],
      [
        ['dynamodb:UpdateItem'],
        {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SUBJECT#*'] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'revokedBefore', 'issuer', 'sub'] },
        },
      ],
    ]);
  });

  it.each([
    [
      'token',
      { action: 'dynamodb:PutItem', leadingKeys: ['SUBJECT#alice'], attributes: ['pk', 'revokedBefore'] },
    ],
    ['token', { action: 'dynamodb:PutItem', leadingKeys: ['KEY#k1'], attributes: ['pk'] }],
    ['token', { action: 'dynamodb:UpdateItem', leadingKeys: ['TOKEN#j'], attributes: ['pk', 'revokedAt'] }],
    [
      'revoke',
      { action: 'dynamodb:UpdateItem', leadingKeys: ['SUBJECT#alice'], attributes: ['pk', 'revokedAt'] },
    ],
    ['revoke', { action: 'dynamodb:UpdateItem', leadingKeys: ['TOKEN#j'], attributes: ['pk', 'sub'] }],
    [
      'revoke',
      { action: 'dynamodb:UpdateItem', leadingKeys: ['TOKEN#j'], attributes: ['pk', 'revokedAt', 'exp'] },
    ],
    [
      'admin-revoke',
      { action: 'dynamodb:UpdateItem', leadingKeys: ['SUBJECT#a'], attributes: ['pk', 'revokedAt'] },
    ],
    ['admin-revoke', { action: 'dynamodb:UpdateItem', leadingKeys: ['SEEN#i#j'], attributes: ['pk', 'ttl'] }],
    ['introspect', { action: 'dynamodb:GetItem', leadingKeys: ['SEEN#i#j'], attributes: [] }],
    ['jwks', { action: 'dynamodb:GetItem', leadingKeys: ['TOKEN#j'], attributes: [] }],
  ])('denies %s a request outside its prefixes or attributes: %j', (handler, request) => {
    expect(allowed(tableStatements(synth, handler), request)).toBe(false);
  });
});

describe('the handlers’ own DynamoDB requests against their statements (item 3)', () => {
  const synth = synthStack();
  let issuer: TestIssuer;
  let dynamo: EmbeddedDynamo;
  let sts: LocalServer;
  let dataDir: string;
  const recorded: { command: string; input: Record<string, unknown> }[] = [];
  const byHandler = new Map<string, TableRequest[]>();
  const base = () => sts.url;

  /** One request to the local server; its DynamoDB calls are charged to the route's handler. */
  async function call(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    recorded.length = 0;
    const response = await fetch(`${base()}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    const body = await response.text();
    expect(response.status, body).toBe(200);
    const handler = findRoute('POST', path)!.handler;
    byHandler.set(handler, [
      ...(byHandler.get(handler) ?? []),
      ...recorded.map(({ command, input }) => toRequest(command, input)),
    ]);
    return body ? (JSON.parse(body) as Record<string, string>) : {};
  }

  beforeAll(async () => {
    issuer = await startTestIssuer();
    dynamo = await startEmbeddedDynamo(undefined);
    const client = localDynamoClient(dynamo.endpoint);
    // A transaction is authorized item by item, each under its own action (PutItem, ...).
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context as { commandName?: string }).commandName ?? '';
        const input = args.input as Record<string, unknown>;
        if (/^(Get|Put|Update|Delete)ItemCommand$/.test(command)) recorded.push({ command, input });
        if (command === 'TransactWriteItemsCommand') {
          for (const item of input.TransactItems as Record<string, Record<string, unknown>>[]) {
            for (const [kind, request] of Object.entries(item))
              recorded.push({
                command: `${kind}ItemCommand`,
                input: request,
              });
          }
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordTableRequests' },
    );
    await ensureTable(client, 'sts-tokens');
    dataDir = mkdtempSync(join(tmpdir(), 'sts-table-access-'));
    sts = await startLocalServer({
      settings: loadSettings({
        PORT: '0',
        STS_DATA_DIR: dataDir,
        STS_LOG_LEVEL: 'silent',
        STS_ADMIN_TOKEN: 'admin-secret-for-table-access',
      }),
      store: new DynamoStore({ client, tableName: 'sts-tokens' }),
      config: (url) =>
        parseConfig({
          issuer: url,
          tokenLifetime: { default: '5m', max: '15m' },
          trustedIssuers: [
            { name: 'ext', issuer: issuer.issuer, audiences: [url], algorithms: ['RS256'], oneTimeUse: true },
          ],
          policies: [
            { name: 'users', issuer: 'ext', subject: '*', audiences: [url, 'https://api.example'] },
            {
              name: 'chained',
              issuer: 'self',
              origin: 'ext',
              subject: '*',
              audiences: ['https://api.example'],
            },
          ],
        }),
    });

    const admin = { authorization: 'Bearer admin-secret-for-table-access' };
    const exchange = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange' };
    const jwt = 'urn:ietf:params:oauth:token-type:jwt';
    const subjectToken = await issuer.mint({ sub: 'alice', aud: base(), jti: randomUUID() });
    // A one-time subject token (SEEN#, TOKEN#), then a chained exchange of the result (reads).
    const first = await call('/token', {
      ...exchange,
      subject_token: subjectToken,
      subject_token_type: jwt,
      audience: base(),
    });
    const chained = await call('/token', {
      ...exchange,
      subject_token: first.access_token!,
      subject_token_type: jwt,
      audience: 'https://api.example',
    });
    // A DPoP-bound exchange: the proof's jti is spent as SEEN#dpop#<digest>, TOKEN# keeps jkt.
    const dpopKey = await generateDpopKey();
    const bound = await call(
      '/token',
      {
        ...exchange,
        subject_token: await issuer.mint({ sub: 'alice', aud: base(), jti: randomUUID() }),
        subject_token_type: jwt,
        audience: 'https://api.example',
      },
      { dpop: await signDpopProof(dpopKey, { method: 'POST', url: `${base()}/token` }) },
    );
    expect(bound.token_type).toBe('DPoP');
    expect(byHandler.get('token')!.some((r) => r.leadingKeys[0]!.startsWith('SEEN#dpop#'))).toBe(true);
    await call('/introspect', { token: chained.access_token! }, admin);
    await call('/revoke', { token: chained.access_token! });
    await call(
      '/admin/revoke',
      { jti: JSON.parse(Buffer.from(first.access_token!.split('.')[1]!, 'base64url').toString()).jti },
      admin,
    );
    await call('/admin/revoke', { sub: 'alice' }, admin);
  }, 60_000);

  afterAll(async () => {
    await sts?.close();
    await Promise.all([issuer?.close(), dynamo?.close()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('drives every table-using handler, with requests of every item kind they are granted', () => {
    const usesTable = HANDLERS.filter((handler) => HANDLER_ACCESS[handler]!.table.length > 0);
    expect([...byHandler.keys()].sort()).toEqual([...usesTable].sort());
    const kinds = (handler: string) =>
      [
        ...new Set(byHandler.get(handler)!.map((r) => `${r.action} ${r.leadingKeys[0]!.split('#')[0]}#`)),
      ].sort();
    expect(kinds('token')).toEqual([
      'dynamodb:GetItem SUBJECT#',
      'dynamodb:GetItem TOKEN#',
      'dynamodb:PutItem SEEN#',
      'dynamodb:PutItem TOKEN#',
    ]);
    expect(kinds('admin-revoke')).toEqual(['dynamodb:UpdateItem SUBJECT#', 'dynamodb:UpdateItem TOKEN#']);
  });

  it.each(HANDLERS.filter((handler) => HANDLER_ACCESS[handler]!.table.length > 0))(
    'allows every request %s sends',
    (handler) => {
      const statements = tableStatements(synth, handler);
      for (const request of byHandler.get(handler) ?? []) {
        expect(allowed(statements, request), JSON.stringify(request)).toBe(true);
      }
    },
  );
});
