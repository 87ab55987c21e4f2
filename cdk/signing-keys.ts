import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * The KMS signing keys of a TokenService and the `STS_KMS_KEY_IDS` list built from them, with the
 * semantics of lib/signers/kms.ts and docs/key-rotation.md: the first entry signs, the others are
 * only published (the next key before it signs, the previous one until its tokens expire).
 */

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

export class SigningKeys extends Construct {
  /** The key that signs. */
  readonly active: kms.IKey;
  /** Every published key, in `STS_KMS_KEY_IDS` order (active first). */
  readonly published: readonly kms.IKey[];
  /** Keys this construct created, by name. */
  readonly owned: ReadonlyMap<string, kms.Key>;
  /** The `STS_KMS_KEY_IDS` value: key ARNs, `#PS256` where an RSA key signs PS256. */
  readonly keyIds: string;

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
