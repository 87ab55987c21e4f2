import { serverError } from '../shared/errors.ts';
import { subjectKey } from '../shared/token-table.ts';
import type { IssuedToken, OneTimeUse, TokenRecord, TokenStore } from './store.ts';

/** An in-process TokenStore with the same semantics as DynamoStore: unit tests and benchmarks. */
export class MemoryStore implements TokenStore {
  readonly tokens = new Map<string, TokenRecord>();
  /** `revokedBefore` by `subjectKey(issuer, sub)`, as the table keys it. */
  readonly subjects = new Map<string, number>();
  readonly seen = new Map<string, number>();

  async recordIssued(token: IssuedToken): Promise<void> {
    if (this.tokens.has(token.jti)) throw serverError('memory.put_token.jti_exists');
    this.tokens.set(token.jti, { ...token, revokedAt: undefined });
  }

  async recordIssuedSpending(
    token: IssuedToken,
    spend: readonly OneTimeUse[],
  ): Promise<OneTimeUse | undefined> {
    // All or nothing, as DynamoDB's transaction: a replay writes nothing, a failed token write
    // (a test's injected fault) takes the SEEN# entries back.
    const keys = spend.map((use) => `${use.issuer}#${use.jti}`);
    const replayed = spend.find((_, index) => this.seen.has(keys[index]!));
    if (replayed) return replayed;
    spend.forEach((use, index) => {
      this.seen.set(keys[index]!, use.until);
    });
    try {
      await this.recordIssued(token);
    } catch (error) {
      for (const key of keys) this.seen.delete(key);
      throw error;
    }
    return undefined;
  }

  async getToken(jti: string): Promise<TokenRecord | undefined> {
    return this.tokens.get(jti);
  }

  async subjectRevokedBefore(issuer: string, sub: string): Promise<number | undefined> {
    return this.subjects.get(subjectKey(issuer, sub));
  }

  async revokeToken(jti: string, at: number): Promise<boolean> {
    const record = this.tokens.get(jti);
    if (!record) return false;
    if (record.revokedAt === undefined) this.tokens.set(jti, { ...record, revokedAt: at });
    return true;
  }

  async revokeSubject(issuer: string, sub: string, before: number): Promise<void> {
    const key = subjectKey(issuer, sub);
    this.subjects.set(key, Math.max(before, this.subjects.get(key) ?? 0));
  }

  async markSubjectTokenUsed(issuer: string, jti: string, exp: number): Promise<boolean> {
    const key = `${issuer}#${jti}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, exp);
    return true;
  }
}
