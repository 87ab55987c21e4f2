import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 90_000,
    pool: 'forks',
    allowOnly: false,
    // The JSON report gives .ci/run its "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.vitest/results.json' }]],
  },
});
