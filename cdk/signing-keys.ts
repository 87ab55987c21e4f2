// The KMS signing keys of a TokenService and the `STS_KMS_KEY_IDS` list built from them, with the
// semantics of lib/signers/kms.ts and docs/key-rotation.md: the first entry signs, the others are
// only published (the next key before it signs, the previous one until its tokens expire).
//
// Grants follow the keys, not the slots: every key the construct owns (next, active, previous)
// may be signed with by the signing roles, and every published key read by every role, each key
// through its own IAM policy named after the key. A key therefore keeps its grants for as long
// as it is in the props: `nextKey` can sign before it is activated (containers of the new
// version never meet AccessDenied), `previousKey` until it is retired (containers of the old
// version neither). When a key leaves the props, its policies are deleted in CloudFormation's
// cleanup phase, after the functions run the new list.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { restrictKeyUse } from './key-policy.ts';

/** The JWS algorithms the KMS signer supports. */
export type KeyAlgorithm = 'ES256' | 'RS256' | 'PS256';

/** A KMS signing key the construct creates and owns. */
export interface SigningKeyOptions {
  /**
   * Stable name of the key: its construct id and alias (`alias/<keyAliasPrefix>/<name>`). A key
   * keeps its name when it moves between `nextKey`, `signingKey` and `previousKey`, so it stays
   * the same KMS key through a rotation.
   */
  readonly name: string;
  /** ECC_NIST_P256 (ES256, default), or RSA_2048, RSA_3072, RSA_4096 (RS256 or PS256). */
  readonly keySpec?: kms.KeySpec;
  /** The JWS alg: ES256 for ECC_NIST_P256; RS256 (default) or PS256 for RSA keys. */
  readonly algorithm?: KeyAlgorithm;
}

/** A key managed outside this construct (another stack or account), published but never signing. */
export interface ExternalPublishedKey {
  /** Imported by key ARN (`kms.Key.fromKeyArn`): IAM grants need the key ARN, not an alias. */
  readonly key: kms.IKey;
  readonly algorithm?: KeyAlgorithm;
}

export interface SigningKeysProps {
  readonly signingKey?: SigningKeyOptions;
  readonly nextKey?: SigningKeyOptions;
  readonly previousKey?: SigningKeyOptions;
  readonly externalPublishedKeys?: readonly ExternalPublishedKey[];
  readonly aliasPrefix: string;
  readonly removalPolicy?: RemovalPolicy;
}

const ALGORITHMS_BY_SPEC: Readonly<Record<string, readonly KeyAlgorithm[]>> = {
  [kms.KeySpec.ECC_NIST_P256]: ['ES256'],
  [kms.KeySpec.RSA_2048]: ['RS256', 'PS256'],
  [kms.KeySpec.RSA_3072]: ['RS256', 'PS256'],
  [kms.KeySpec.RSA_4096]: ['RS256', 'PS256'],
};

/** The KMS `SigningAlgorithm` of each JWS alg (lib/signers/kms-key.ts). */
export const KMS_SIGNING_ALGORITHMS: Readonly<Record<KeyAlgorithm, string>> = {
  ES256: 'ECDSA_SHA_256',
  RS256: 'RSASSA_PKCS1_V1_5_SHA_256',
  PS256: 'RSASSA_PSS_SHA_256',
};

export class SigningKeys extends Construct {
  /** The key that signs. */
  readonly active: kms.IKey;
  /** Every published key, in `STS_KMS_KEY_IDS` order (active first). */
  readonly published: readonly kms.IKey[];
  /** Keys this construct created, by name. */
  readonly owned: ReadonlyMap<string, kms.Key>;
  /** The `STS_KMS_KEY_IDS` value: key ARNs, `#PS256` where an RSA key signs PS256. */
  readonly keyIds: string;
  readonly #algorithms = new Map<kms.Key, KeyAlgorithm>();
  readonly #external: readonly ExternalPublishedKey[];

  constructor(scope: Construct, id: string, props: SigningKeysProps) {
    super(scope, id);
    const signing = props.signingKey ?? { name: 'primary' };
    const options = [signing, props.nextKey, props.previousKey].filter(
      (key): key is SigningKeyOptions => key !== undefined,
    );
    const names = options.map((key) => key.name);
    const duplicate = names.find((name, index) => names.indexOf(name) !== index);
    if (duplicate)
      throw new Error(`TokenService: key "${duplicate}" is named twice (signing, next, previous)`);

    const owned = new Map<string, kms.Key>();
    const entries: string[] = [];
    for (const option of options) {
      const key = this.createKey(option, props.aliasPrefix, props.removalPolicy);
      owned.set(option.name, key);
      this.#algorithms.set(
        key,
        option.algorithm ?? ALGORITHMS_BY_SPEC[option.keySpec ?? kms.KeySpec.ECC_NIST_P256]![0]!,
      );
      // RS256 and ES256 are the defaults of their key specs; the signer reads `#PS256`.
      entries.push(option.algorithm === 'PS256' ? `${key.keyArn}#PS256` : key.keyArn);
    }
    const external = props.externalPublishedKeys ?? [];
    for (const { key, algorithm } of external)
      entries.push(algorithm ? `${key.keyArn}#${algorithm}` : key.keyArn);

    this.owned = owned;
    this.active = owned.get(signing.name)!;
    this.published = [...owned.values(), ...external.map(({ key }) => key)];
    this.keyIds = entries.join(',');
    this.#external = external;
  }

  /**
   * Gives `readers` `kms:GetPublicKey` on every published key and `signers` `kms:Sign` on every
   * owned key (with the key's one signing algorithm, on digests), each key through its own IAM
   * policies; and makes each owned key's policy deny `kms:Sign` to every principal but
   * `signers`, and any Sign that is not a digest in that algorithm. Returns the policies: a
   * function must depend on them, so its grants exist before it runs with a new key list.
   */
  grantUse(readers: readonly iam.IRole[], signers: readonly iam.IRole[]): iam.Policy[] {
    const policies: iam.Policy[] = [];
    const policy = (
      scope: Construct,
      id: string,
      roles: readonly iam.IRole[],
      statement: iam.PolicyStatement,
    ) => {
      if (roles.length === 0) return;
      policies.push(new iam.Policy(scope, id, { roles: [...roles], statements: [statement] }));
    };
    for (const [key, alg] of this.#algorithms) {
      const require = {
        'kms:MessageType': ['DIGEST'],
        'kms:SigningAlgorithm': [KMS_SIGNING_ALGORITHMS[alg]],
      };
      restrictKeyUse(key, { sid: 'Sign', actions: ['kms:Sign'], principals: signers, require });
      policy(key, 'ReadPublicKey', readers, publicKeyStatement(key));
      policy(
        key,
        'SignDigests',
        signers,
        new iam.PolicyStatement({
          actions: ['kms:Sign'],
          resources: [key.keyArn],
          conditions: { StringEquals: require },
        }),
      );
    }
    for (const { key } of this.#external) {
      // Keyed by the import's construct address: stable while the import stays where it is.
      policy(this, `ReadExternalPublicKey${key.node.addr.slice(0, 12)}`, readers, publicKeyStatement(key));
    }
    return policies;
  }

  private createKey(options: SigningKeyOptions, aliasPrefix: string, removalPolicy?: RemovalPolicy): kms.Key {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.name)) {
      throw new Error(`TokenService: key name "${options.name}" must be 1-64 letters, digits, "_" or "-"`);
    }
    const keySpec = options.keySpec ?? kms.KeySpec.ECC_NIST_P256;
    const allowed = ALGORITHMS_BY_SPEC[keySpec];
    if (!allowed) {
      throw new Error(
        `TokenService: key "${options.name}" has spec ${keySpec}; expected ${Object.keys(ALGORITHMS_BY_SPEC).join(', ')}`,
      );
    }
    if (options.algorithm && !allowed.includes(options.algorithm)) {
      throw new Error(
        `TokenService: key "${options.name}" is ${keySpec}, which signs ${allowed.join(' or ')}, not ${options.algorithm}`,
      );
    }
    return new kms.Key(this, options.name, {
      description: `STS token signing key "${options.name}"`,
      keySpec,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      alias: `${aliasPrefix}/${options.name}`,
      removalPolicy: removalPolicy ?? RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
  }
}

const publicKeyStatement = (key: kms.IKey) =>
  new iam.PolicyStatement({ actions: ['kms:GetPublicKey'], resources: [key.keyArn] });
