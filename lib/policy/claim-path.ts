// Claim names in policies: a plain top-level claim name (`repository`), or a JSON Pointer
// (RFC 6901) into nested objects when the name starts with `/`. AWS outbound identity tokens keep
// their facts under one claim named `https://sts.amazonaws.com/`, so the account is
// `/https:~1~1sts.amazonaws.com~1/aws_account` (`~1` stands for `/`, `~0` for `~`). The two forms
// never overlap: a top-level claim whose name itself starts with `/` is written as a pointer
// (`/~1odd`). Only own properties of plain objects are walked (never arrays, never a prototype).
import { RESERVED_CLAIMS } from '../shared/claims.ts';

/** Names that would reach an object's prototype when used as keys. */
export const PROTOTYPE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A parsed claim name: the keys from the top-level claim down. */
export type ClaimPath = readonly string[];

/** Why a claim name is not a usable path, or undefined when it is. */
export function claimPathProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (!name.startsWith('/')) return PROTOTYPE_KEYS.has(name) ? 'is not a claim name' : undefined;
  if (/~[^01]|~$/.test(name)) return 'is not a JSON Pointer (RFC 6901): "~" must be followed by 0 or 1';
  const segments = parseClaimPath(name);
  if (segments.some((segment) => segment.length === 0)) return 'has an empty JSON Pointer segment';
  if (segments.some((segment) => PROTOTYPE_KEYS.has(segment))) return 'is not a claim name';
  return undefined;
}

/**
 * Parses a claim name into its path. Call `claimPathProblem` first on untrusted text.
 *
 * @example parseClaimPath('/https:~1~1sts.amazonaws.com~1/org_id') // ['https://sts.amazonaws.com/', 'org_id']
 */
export function parseClaimPath(name: string): ClaimPath {
  if (!name.startsWith('/')) return [name];
  return name
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Whether a copied claim name would set a reserved claim (its top-level key is reserved). */
export function isReservedClaimPath(name: string): boolean {
  return RESERVED_CLAIMS.has(parseClaimPath(name)[0] ?? '');
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The value at `path` in `claims`, or undefined when any step is missing or not an object. */
export function readClaim(claims: Readonly<Record<string, unknown>>, path: ClaimPath): unknown {
  let current: unknown = claims;
  for (const key of path) {
    if (!isPlainObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** Sets `value` at `path` in `target`, creating the nested objects on the way. */
export function writeClaim(target: Record<string, unknown>, path: ClaimPath, value: unknown): void {
  let current = target;
  path.forEach((key, index) => {
    if (index === path.length - 1) {
      current[key] = value;
      return;
    }
    const next = Object.hasOwn(current, key) ? current[key] : undefined;
    if (!isPlainObject(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  });
}

/**
 * The claims a policy copies, each at the same path in the result (nested paths stay nested, so
 * `/https:~1~1sts.amazonaws.com~1/org_id` arrives under the same namespace). Missing values are
 * skipped; reserved top-level claims are never produced.
 */
export function copyClaimPaths(
  claims: Readonly<Record<string, unknown>>,
  names: readonly string[],
): Record<string, unknown> {
  const copied: Record<string, unknown> = {};
  for (const name of names) {
    const path = parseClaimPath(name);
    if (RESERVED_CLAIMS.has(path[0] ?? '')) continue;
    const value = readClaim(claims, path);
    if (value !== undefined) writeClaim(copied, path, structuredClone(value));
  }
  return copied;
}

/** Whether one of the names is a path prefix of another (their copies would overwrite each other). */
export function overlappingPaths(names: readonly string[]): [string, string] | undefined {
  const paths = names.map((name) => [name, parseClaimPath(name)] as const);
  for (const [a, pa] of paths) {
    for (const [b, pb] of paths) {
      if (a !== b && pa.length <= pb.length && pa.every((key, index) => pb[index] === key)) return [a, b];
    }
  }
  return undefined;
}
