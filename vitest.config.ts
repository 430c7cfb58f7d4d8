import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration files start real servers; two cores, so keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
  },
})
