import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit-and-wire',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**'],
          // Every test picks free ports and temporary files, so these files run in parallel.
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // Each browser file starts the bot, playgrounds and Chromium: one at a time, after
          // the rest, so a shared 2-core machine does not starve them into timeouts.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
