import { defineConfig } from 'vitest/config'

// End-to-end and black-box security tests: plain Node, against the real `npm start` stack
// (gateway on :8787, demo origin on :8788) that the global setup starts on a fresh state dir.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts', 'test/security/**/*.test.ts'],
    globalSetup: ['./test/helpers/stack/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})
