import { describe, expect, it } from 'vitest';
import {
  claimPathProblem,
  copyClaimPaths,
  overlappingPaths,
  parseClaimPath,
  readClaim,
} from '../../../lib/policy/claim-path.ts';

const AWS = 'https://sts.amazonaws.com/';
/** The nested facts of an AWS outbound identity token (IAM User Guide, "Understanding token claims"). */
const outbound = {
  sub: 'arn:aws:iam::123456789012:role/DataProcessingRole',
  [AWS]: {
    aws_account: '123456789012',
    org_id: 'o-abc1234567',
    ou_path: 'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/',
    principal_tags: { team: 'data-engineering', 'cost-center': 'engineering' },
  },
  '/odd': 'top-level name starting with a slash',
  'a~b': 'tilde',
  list: ['x'],
};

describe('claim paths', () => {
  it.each([
    ['repository', ['repository']],
    ['/https:~1~1sts.amazonaws.com~1/org_id', [AWS, 'org_id']],
    ['/https:~1~1sts.amazonaws.com~1/principal_tags/team', [AWS, 'principal_tags', 'team']],
    ['/~1odd', ['/odd']],
    ['/a~0b', ['a~b']],
    ['https://sts.amazonaws.com/', [AWS]],
  ])('%s is the path %j', (name, path) => {
    expect(claimPathProblem(name)).toBeUndefined();
    expect(parseClaimPath(name)).toEqual(path);
  });

  it.each([
    ['', 'is empty'],
    ['/', 'empty JSON Pointer segment'],
    ['/a//b', 'empty JSON Pointer segment'],
    ['/a/~2', 'RFC 6901'],
    ['/a~', 'RFC 6901'],
    ['__proto__', 'not a claim name'],
    ['/x/__proto__', 'not a claim name'],
    ['/constructor', 'not a claim name'],
  ])('%j is refused (%s)', (name, problem) => {
    expect(claimPathProblem(name)).toContain(problem);
  });

  it('reads nested own properties only, never through arrays or prototypes', () => {
    expect(readClaim(outbound, parseClaimPath('/https:~1~1sts.amazonaws.com~1/org_id'))).toBe('o-abc1234567');
    expect(readClaim(outbound, parseClaimPath('/https:~1~1sts.amazonaws.com~1/principal_tags/team'))).toBe(
      'data-engineering',
    );
    expect(readClaim(outbound, parseClaimPath('/~1odd'))).toBe('top-level name starting with a slash');
    expect(readClaim(outbound, parseClaimPath('/list/0'))).toBeUndefined();
    expect(readClaim(outbound, parseClaimPath('/sub/length'))).toBeUndefined();
    expect(readClaim(outbound, ['toString'])).toBeUndefined();
    expect(readClaim(outbound, parseClaimPath('/https:~1~1sts.amazonaws.com~1/missing'))).toBeUndefined();
  });

  it('copies nested claims to the same path, skipping missing and reserved ones', () => {
    const copied = copyClaimPaths(outbound, [
      '/https:~1~1sts.amazonaws.com~1/org_id',
      '/https:~1~1sts.amazonaws.com~1/aws_account',
      '/https:~1~1sts.amazonaws.com~1/nope',
      '/sub',
      'aud',
    ]);
    expect(copied).toEqual({ [AWS]: { org_id: 'o-abc1234567', aws_account: '123456789012' } });
  });

  it('finds a copied path that contains another', () => {
    expect(overlappingPaths(['a', '/a/b'])).toEqual(['a', '/a/b']);
    expect(overlappingPaths(['/a/b', '/a/c', 'b'])).toBeUndefined();
  });
});
