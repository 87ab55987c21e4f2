import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { configJsonSchema } from '../lib/config/config.ts';

/**
 * Writes the JSON Schema of `sts.config.json` for editors (`npm run schema`). A unit test fails
 * when the committed file differs from what this script would write.
 */
export const SCHEMA_PATH = fileURLToPath(new URL('../schema/sts.config.schema.json', import.meta.url));

/** The exact text of the schema file. */
export const schemaText = (): string => `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  mkdirSync(dirname(SCHEMA_PATH), { recursive: true });
  writeFileSync(SCHEMA_PATH, schemaText());
  console.log(`wrote ${SCHEMA_PATH}`);
}
