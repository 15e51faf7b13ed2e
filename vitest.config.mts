import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    // esbuild drops decorator metadata, which type-graphql and MikroORM read: compile with swc.
    swc.vite({
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
        target: 'es2022',
      },
    }),
  ],
  resolve: {
    // One graphql module for our code and the CommonJS libraries, or graphql-js refuses
    // schemas "from another module or realm".
    alias: [{ find: /^graphql$/, replacement: resolve(import.meta.dirname, 'node_modules/graphql/index.js') }],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // reflect-metadata, which type-graphql's decorators need.
    setupFiles: ['test/support/setup.ts'],
    projects: [
      // Pure pieces (order, keysets, cursors, filters, definitions): no database, seconds.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // Through the server, on a real PostgreSQL.
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/unit/**'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
