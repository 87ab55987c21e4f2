// The error of a configuration that cannot be used (the policy file, an environment variable, a
// KMS key that does not fit): its own module, so code that only reports such errors (settings,
// signers) does not load the policy file's schema.

/** A configuration refused at load: where it came from and every problem found. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration ${source}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}
