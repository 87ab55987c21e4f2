import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyPairWithoutPlaintextCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataKeySigner } from '../../../lib/signers/data-key.ts';
import { rotateDataKeys } from '../../../lib/signers/data-key-rotation.ts';
import { checkTiming } from '../../../lib/signers/data-key-rules.ts';
import { DynamoKeyStore } from '../../../lib/stores/dynamodb-keys.ts';
import { createKmsStandIn } from '../../../local/kms-stand-in.ts';
import { startKmsEndpoint } from '../../support/kms-endpoint.ts';
import { DYNAMO_STORE_KINDS, type OpenedStore } from '../../support/token-stores.ts';

const TIMING = checkTiming(
  { rotationPeriod: 3600, publishLead: 600 },
  { maxTokenLifetime: 900, clockSkew: 30 },
);

describe.each(DYNAMO_STORE_KINDS)('DynamoKeyStore on $name', (kind) => {
  let opened: OpenedStore;
  beforeAll(async () => {
    opened = await kind.open();
  }, 60_000);
  afterAll(async () => {
    await opened?.close();
  });

  it('keeps the ring in KEY#ring and KEY#<kid> items; a stale writer loses', async () => {
    const { client, tableName } = opened.dynamo!;
    const keys = new DynamoKeyStore({ client, tableName });
    expect(await keys.readRing()).toEqual({ keys: [], version: 0 });
    const standIn = createKmsStandIn();
    const kms = new KMSClient({ region: 'eu-west-1' });
    const mock = mockClient(kms);
    mock
      .on(GenerateDataKeyPairWithoutPlaintextCommand)
      .callsFake((input) => standIn.generateDataKeyPairWithoutPlaintext(input));
    mock.on(DecryptCommand).callsFake((input) => standIn.decrypt(input));
    let now = Date.UTC(2026, 10, 30, 9);
    const clock = () => now;
    const rotate = () => rotateDataKeys({ keys, kms, clock, wrappingKeyId: standIn.keyArn, timing: TIMING });

    const first = await rotate();
    now += TIMING.publishLead * 1000;
    await rotate();
    now += (TIMING.rotationPeriod - TIMING.publishLead) * 1000;
    const third = await rotate();
    const ring = await keys.readRing();
    expect(ring.version).toBe(3);
    expect(ring.keys.map((key) => [key.kid, key.state])).toEqual([
      [first.created, 'active'],
      [third.created, 'next'],
    ]);
    const item = (
      await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { pk: { S: `KEY#${first.created}` } },
          ConsistentRead: true,
        }),
      )
    ).Item!;
    expect(item.state?.S).toBe('active');
    expect(JSON.parse(item.jwk!.S!)).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      kid: first.created,
      alg: 'ES256',
    });
    expect(item.jwk!.S).not.toContain('"d"');
    expect(item.encryptedPrivateKey?.B?.length).toBeGreaterThan(100);
    expect(await keys.writeRing(1, ring.keys)).toBe(false);

    // The signer reads the ring from the table and signs with the active key.
    const signer = createDataKeySigner({ keys, kms, clock });
    expect((await signer.activeKey()).kid).toBe(first.created);
    expect((await signer.publicKeys()).map((jwk) => jwk.kid)).toEqual([first.created, third.created]);
  });
});

describe('data-key mode against the loopback KMS endpoint (AWS JSON protocol)', () => {
  it('rotates and signs through a real KMSClient: one Decrypt for many tokens', async () => {
    const endpoint = await startKmsEndpoint();
    const kind = DYNAMO_STORE_KINDS.find((candidate) => candidate.name === 'dynalite')!;
    const opened = await kind.open();
    try {
      const kms = new KMSClient({
        region: 'eu-west-1',
        endpoint: endpoint.endpoint,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      });
      const keys = new DynamoKeyStore({ client: opened.dynamo!.client, tableName: opened.dynamo!.tableName });
      const clock = () => Date.UTC(2026, 10, 30, 9);
      const report = await rotateDataKeys({
        keys,
        kms,
        clock,
        wrappingKeyId: endpoint.dataKeys.keyArn,
        timing: TIMING,
        bootstrapActive: true,
      });
      const signer = createDataKeySigner({ keys, kms, clock });
      const [jwk] = await signer.publicKeys();
      const key = await importJWK(jwk!, 'ES256');
      for (let index = 0; index < 5; index++) {
        const input = Buffer.from(
          `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: report.created })).toString('base64url')}.e30`,
        );
        const signature = await signer.sign(input);
        const jws = `${input.toString()}.${Buffer.from(signature).toString('base64url')}`;
        await expect(compactVerify(jws, key)).resolves.toBeDefined();
      }
      expect(endpoint.dataKeys.calls).toEqual({ GenerateDataKeyPairWithoutPlaintext: 1, Decrypt: 1 });
      expect(endpoint.calls.Sign).toBe(0);
      kms.destroy();
    } finally {
      await opened.close();
      await endpoint.close();
    }
  }, 60_000);
});
