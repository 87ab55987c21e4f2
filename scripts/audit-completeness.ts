// Audit completeness check (SLI M10, docs/operations.md): compares the TOKEN# items of a window
// with the `token.issued` lines exported from the token function's log group, and exits 1 when
// one side lacks the other. `npm run audit -- --table T --from ISO --to ISO --lines lines.jsonl`.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type AuditReport,
  compareAudit,
  parseIssuedLines,
  scanIssuedItems,
} from '../lib/ops/audit-completeness.ts';

const USAGE = `usage: npm run audit -- --table <name> --from <ISO time> --to <ISO time> --lines <file|->
  [--slack <seconds, default 60>] [--endpoint <DynamoDB endpoint URL>]

  --lines   the token.issued lines of the token function's log group, one JSON object per line
            (or CloudWatch events with a "message" field); "-" reads stdin.`;

export interface AuditArgs {
  readonly table: string;
  readonly from: number;
  readonly to: number;
  readonly lines: string;
  readonly slack: number;
  readonly endpoint: string | undefined;
}

/** The arguments, or an error message. */
export function parseAuditArgs(argv: readonly string[]): AuditArgs | string {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        table: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        lines: { type: 'string' },
        slack: { type: 'string' },
        endpoint: { type: 'string' },
      },
      strict: true,
    }) as { values: Record<string, string | undefined> });
  } catch (error) {
    return (error as Error).message;
  }
  const seconds = (text: string | undefined) => (text ? Math.floor(Date.parse(text) / 1000) : Number.NaN);
  const from = seconds(values.from);
  const to = seconds(values.to);
  const slack = values.slack === undefined ? 60 : Number(values.slack);
  if (!values.table || !values.lines) return '--table and --lines are required';
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to)
    return '--from and --to: ISO times, from <= to';
  if (!Number.isInteger(slack) || slack < 0) return '--slack: whole seconds';
  return { table: values.table, from, to, lines: values.lines, slack, endpoint: values.endpoint };
}

/** Runs the check; the report is what the script prints. */
export async function runAudit(args: AuditArgs, client: DynamoDBClient): Promise<AuditReport> {
  const text = readFileSync(args.lines === '-' ? 0 : args.lines, 'utf8');
  const window = { from: args.from, to: args.to, slackSeconds: args.slack };
  const readAt = Math.floor(Date.now() / 1000);
  const items = await scanIssuedItems(client, args.table, window);
  return compareAudit(items, parseIssuedLines(text), window, readAt);
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const args = parseAuditArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`${args}\n${USAGE}\n`);
    process.exit(2);
  }
  const client = new DynamoDBClient(args.endpoint ? { endpoint: args.endpoint } : {});
  const report = await runAudit(args, client);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.complete ? 0 : 1);
}
