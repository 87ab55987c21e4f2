import { describe, expect, it } from 'vitest';
import { UsageError, withPeers } from '../../bin/cli-io.ts';

describe('withPeers', () => {
  it('says which optional peers to install when a package is missing', async () => {
    const error = await withPeers(
      '--table reads DynamoDB',
      ['@example/not-installed'],
      () => import(`@example/${'not-installed'}`),
    ).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      '--table reads DynamoDB: install @example/not-installed (optional peer dependencies)',
    );
  });

  it('passes any other failure through unchanged (a bug is not a missing package)', async () => {
    const bug = new TypeError('x is not a function');
    await expect(withPeers('--aws-identity', ['a'], () => Promise.reject(bug))).rejects.toBe(bug);
  });

  it('returns what the loader returns', async () => {
    await expect(withPeers('x', ['a'], async () => 42)).resolves.toBe(42);
  });
});
