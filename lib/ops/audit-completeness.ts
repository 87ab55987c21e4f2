// Audit completeness (SLI M10): every TOKEN# item of a time window has its `token.issued` audit
// line, and every `token.issued` line of the window has its TOKEN# item. The first direction
// proves no token was issued without an audit record; the second that no audit line describes a
// token the table does not know (invariant 1: no token without its record). docs/operations.md
// (M10) shows how to run it with scripts/audit-completeness.ts.
//
// Windows and edges: a token's `iat` is set before it is signed and recorded, and its line is
// written after, within one exchange (under `slackSeconds`). So the items of [from, to] are
// compared with the lines of [from, to + slack], and a line is reported without its item only
// when it was written in [from + slack, to]. TOKEN# items are deleted by DynamoDB's TTL some time
// after `exp`: a line whose token had expired when the table was read is counted as
// `expiredUnverifiable`, never as a mismatch.
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { numberAttribute, PARTITION_KEY, tokenKey } from '../shared/token-table.ts';

const TOKEN_PREFIX = tokenKey('');

export interface AuditWindow {
  /** Epoch seconds, inclusive. */
  readonly from: number;
  /** Epoch seconds, inclusive. */
  readonly to: number;
  /** Longest time from `iat` to the `token.issued` line, seconds (default 60). */
  readonly slackSeconds?: number;
}

export interface IssuedItem {
  readonly jti: string;
  /** Epoch seconds. */
  readonly iat: number;
}

export interface IssuedLine {
  readonly jti: string;
  /** Epoch seconds the line was written. */
  readonly time: number;
  /** Epoch seconds the token expires. */
  readonly exp: number;
}

export interface AuditReport {
  readonly window: { readonly from: number; readonly to: number };
  readonly items: number;
  readonly lines: number;
  /** TOKEN# items of the window without a `token.issued` line. */
  readonly itemsWithoutLine: readonly string[];
  /** `token.issued` lines of the window without a TOKEN# item (token still live when read). */
  readonly linesWithoutItem: readonly string[];
  /** Lines without an item whose token had expired: the item may have been removed by TTL. */
  readonly expiredUnverifiable: number;
  readonly complete: boolean;
}

/** Compares the items and lines of a window; `readAt` is when the table was read (epoch seconds). */
export function compareAudit(
  items: Iterable<IssuedItem>,
  lines: Iterable<IssuedLine>,
  window: AuditWindow,
  readAt: number,
): AuditReport {
  const slack = window.slackSeconds ?? 60;
  const itemJtis = new Set<string>();
  for (const item of items) if (item.iat >= window.from && item.iat <= window.to) itemJtis.add(item.jti);
  const lineJtis = new Set<string>();
  const itemsWithoutLine: string[] = [];
  const linesWithoutItem: string[] = [];
  let expiredUnverifiable = 0;
  let lineCount = 0;
  for (const line of lines) {
    if (line.time < window.from || line.time > window.to + slack) continue;
    lineJtis.add(line.jti);
    if (line.time < window.from + slack || line.time > window.to) continue;
    lineCount++;
    if (itemJtis.has(line.jti)) continue;
    if (line.exp <= readAt) expiredUnverifiable++;
    else linesWithoutItem.push(line.jti);
  }
  for (const jti of itemJtis) if (!lineJtis.has(jti)) itemsWithoutLine.push(jti);
  return {
    window: { from: window.from, to: window.to },
    items: itemJtis.size,
    lines: lineCount,
    itemsWithoutLine,
    linesWithoutItem,
    expiredUnverifiable,
    complete: itemsWithoutLine.length === 0 && linesWithoutItem.length === 0,
  };
}

/**
 * The `token.issued` lines in `text`: one JSON object per line, either the service's own line or
 * a CloudWatch Logs event wrapping it in `message` (`aws logs filter-log-events --output json`
 * events, or their `message` values one per line). Other lines are skipped.
 */
export function parseIssuedLines(text: string): IssuedLine[] {
  const lines: IssuedLine[] = [];
  for (const raw of text.split('\n')) {
    const trimmed = raw.trim();
    if (!trimmed.startsWith('{')) continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(trimmed) as Record<string, unknown>;
      if (typeof record.message === 'string' && record.message.startsWith('{')) {
        record = JSON.parse(record.message) as Record<string, unknown>;
      }
    } catch {
      continue;
    }
    if (record.message !== 'token.issued' || typeof record.jti !== 'string') continue;
    const time = Date.parse(String(record.time)) / 1000;
    if (!Number.isFinite(time)) continue;
    const lifetime = typeof record.expires_in === 'number' ? record.expires_in : 0;
    lines.push({ jti: record.jti, time: Math.floor(time), exp: Math.floor(time) + lifetime });
  }
  return lines;
}

/** The TOKEN# items whose `iat` is in the window: a paginated, filtered Scan (reads the whole table). */
export async function scanIssuedItems(
  client: DynamoDBClient,
  tableName: string,
  window: AuditWindow,
): Promise<IssuedItem[]> {
  const items: IssuedItem[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(#pk, :token) AND iat BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        ExpressionAttributeValues: {
          ':token': { S: TOKEN_PREFIX },
          ':from': { N: String(window.from) },
          ':to': { N: String(window.to) },
        },
        ProjectionExpression: '#pk, iat',
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const pk = item[PARTITION_KEY]?.S;
      const iat = numberAttribute(item, 'iat');
      if (pk?.startsWith(TOKEN_PREFIX) && iat !== undefined) {
        items.push({ jti: pk.slice(TOKEN_PREFIX.length), iat });
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
