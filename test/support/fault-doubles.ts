import { constants, createPublicKey, generateKeyPairSync, type KeyObject, privateEncrypt } from 'node:crypto';
import {
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  paginateScan,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { GetPublicKeyCommand, KMSClient, SignCommand, type SignCommandInput } from '@aws-sdk/client-kms';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';

/**
 * Dependencies that fail on cue, for fault tests of the real KMS signer and the real DynamoStore:
 * a KMS (aws-sdk-client-mock on a real KMSClient) that signs RS256 correctly until told
 * otherwise, and a DynamoDB client whose calls pass through to a real table (dynalite) unless a
 * test makes one of them fail.
 */
export const SDK_SECRET = 'SECRET-SDK-DETAIL-7f3a';

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export interface FakeKms {
  readonly client: KMSClient;
  readonly mock: AwsClientStub<KMSClient>;
  readonly keyArn: string;
  /** Sign calls so far. */
  signCalls(): number;
  /** Answers GetPublicKey and Sign correctly (RSA_2048, RSASSA_PKCS1_V1_5_SHA_256). */
  healthy(): void;
}

/** A KMS holding one RSA_2048 signing key. */
export function fakeKms(): FakeKms {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/5f0c4e1a-0000-4000-8000-000000000001';
  const client = new KMSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const mock = mockClient(client);
  const signDigest = (key: KeyObject, input: SignCommandInput) =>
    privateEncrypt(
      { key, padding: constants.RSA_PKCS1_PADDING },
      Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(input.Message!)]),
    );
  const healthy = () => {
    mock.reset();
    mock.on(GetPublicKeyCommand).resolves({
      KeyId: keyArn,
      KeySpec: 'RSA_2048',
      KeyUsage: 'SIGN_VERIFY',
      SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256', 'RSASSA_PSS_SHA_256'],
      PublicKey: new Uint8Array(createPublicKey(privateKey).export({ type: 'spki', format: 'der' })),
    });
    mock.on(SignCommand).callsFake(async (input: SignCommandInput) => ({
      KeyId: keyArn,
      SigningAlgorithm: input.SigningAlgorithm,
      Signature: new Uint8Array(signDigest(privateKey, input)),
    }));
  };
  healthy();
  return { client, mock, keyArn, healthy, signCalls: () => mock.commandCalls(SignCommand).length };
}

export interface FaultyDynamo {
  /** The client to give the store under test: every call passes through unless told to fail. */
  readonly client: DynamoDBClient;
  readonly mock: AwsClientStub<DynamoDBClient>;
  /** Passes every Get/Put/Update/TransactWriteItems through to the real table. */
  passThrough(): void;
  /**
   * Makes PutItem of items whose `pk` starts with `prefix` fail with `fault`, and every
   * TransactWriteItems holding such a Put (others pass through).
   */
  failPut(prefix: string, fault: () => Promise<never>): void;
  /** Makes every GetItem fail with `fault`. */
  failGet(fault: () => Promise<never>): void;
}

export function faultyDynamo(client: DynamoDBClient, real: DynamoDBClient): FaultyDynamo {
  const mock = mockClient(client);
  const forwardPut = (input: PutItemCommandInput) => real.send(new PutItemCommand(input));
  const forwardTransaction = (input: TransactWriteItemsCommandInput) =>
    real.send(new TransactWriteItemsCommand(input));
  const passThrough = () => {
    mock.reset();
    mock.on(PutItemCommand).callsFake(forwardPut);
    mock.on(GetItemCommand).callsFake((input: GetItemCommandInput) => real.send(new GetItemCommand(input)));
    mock
      .on(UpdateItemCommand)
      .callsFake((input: UpdateItemCommandInput) => real.send(new UpdateItemCommand(input)));
    mock.on(TransactWriteItemsCommand).callsFake(forwardTransaction);
  };
  passThrough();
  return {
    client,
    mock,
    passThrough,
    failPut: (prefix, fault) => {
      mock
        .on(PutItemCommand)
        .callsFake((input: PutItemCommandInput) =>
          input.Item?.pk?.S?.startsWith(prefix) ? fault() : forwardPut(input),
        );
      // A transaction holding such a Put fails as a whole, as DynamoDB's would.
      mock
        .on(TransactWriteItemsCommand)
        .callsFake((input: TransactWriteItemsCommandInput) =>
          input.TransactItems?.some((item) => item.Put?.Item?.pk?.S?.startsWith(prefix))
            ? fault()
            : forwardTransaction(input),
        );
    },
    failGet: (fault) => {
      mock.on(GetItemCommand).callsFake(fault);
    },
  };
}

/** The `jti` of every `TOKEN#` item in the table (a full Scan). */
export async function tokenItems(client: DynamoDBClient, tableName: string): Promise<Set<string>> {
  const jtis = new Set<string>();
  for await (const page of paginateScan({ client }, { TableName: tableName, ConsistentRead: true })) {
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? '';
      if (pk.startsWith('TOKEN#')) jtis.add(pk.slice('TOKEN#'.length));
    }
  }
  return jtis;
}
