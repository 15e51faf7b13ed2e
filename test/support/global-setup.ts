import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/database/embedded';
import { createLogger } from '../../src/logger';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL whose server lets the suites create and drop their own databases. */
    adminUrl: string;
  }
}

let embedded: EmbeddedDatabase | null = null;

/**
 * The suites run against a real PostgreSQL: DATABASE_URL's server when set, else an
 * embedded cluster of their own (kept under .data/, apart from the one `npm start` uses).
 */
export default async function setup(project: TestProject) {
  const url = process.env.DATABASE_URL;
  if (url) {
    project.provide('adminUrl', url);
  } else {
    const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
    embedded = await startEmbeddedPostgres(
      {
        dataDir: process.env.TEST_PG_DATA_DIR ?? '.data/test-postgres',
        port: Number(process.env.TEST_PG_PORT ?? 54339),
        variables: { port: 'TEST_PG_PORT', dataDir: 'TEST_PG_DATA_DIR' },
      },
      log,
    );
    project.provide('adminUrl', embedded.adminUrl);
  }
  return async () => {
    await embedded?.stop();
  };
}
