import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
// Tests import workspace packages from source, so `npm test` needs no prior build of a sibling.
const alias = {
  '@llm-upgrade/core': src('./packages/core/src/index.ts'),
  '@llm-upgrade/installer-hooks': src('./packages/installer-hooks/src/index.ts'),
  'llm-upgrade': src('./packages/upgrader/src/index.ts'),
  '@llm-upgrade/testkit': src('./packages/testkit/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      { resolve: { alias }, test: { name: 'core-unit', root: src('./packages/core'), include: ['src/**/*.test.ts'] } },
      {
        resolve: { alias },
        test: {
          name: 'core-integration',
          root: src('./packages/core'),
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      { resolve: { alias }, test: { name: 'upgrader-unit', root: src('./packages/upgrader'), include: ['src/**/*.test.ts'] } },
      {
        resolve: { alias },
        test: {
          name: 'upgrader-integration',
          root: src('./packages/upgrader'),
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'installer-hooks',
          root: src('./packages/installer-hooks'),
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'tools',
          root: src('./tools'),
          include: ['**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'ansible',
          root: src('./integrations/ansible'),
          include: ['**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'wine',
          root: src('./test/wine'),
          include: ['**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
