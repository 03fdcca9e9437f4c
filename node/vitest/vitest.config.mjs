// vitest runs only the third-party suites written for it (node/vitest/);
// nearcache's own tests run under node:test (node/test/).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*.test.mjs'],
    testTimeout: 10000,
    hookTimeout: 10000,
  },
});
