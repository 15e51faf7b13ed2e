import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/database/embedded';
import { embeddedStartError, placeForPostgresUser } from '../src/database/embedded-checks';
import { loadDotEnv } from '../src/env-file';
import { createLogger } from '../src/logger';
import { StartupError, assertPortFree } from '../src/startup-checks';

// Start-up problems a person can fix are named with the variable to set, before anything
// starts or migrates, with PostgreSQL's own words when it is PostgreSQL that refused.

const silent = createLogger('silent');
let taken: net.Server;
let takenPort: number;
let dir: string;

beforeAll(async () => {
  taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  takenPort = (taken.address() as net.AddressInfo).port;
  dir = mkdtempSync(join(tmpdir(), 'tally-startup-'));
});

afterAll(async () => {
  await new Promise((resolve) => taken.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('a taken port', () => {
  it('names PORT for the HTTP server', async () => {
    const err = await assertPortFree('127.0.0.1', takenPort, 'PORT', 'the HTTP server').catch((e) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect(err.message).toContain(`Port ${takenPort} for the HTTP server is already in use`);
    expect(err.message).toContain(`set PORT to a free port, e.g. PORT=${takenPort + 1}`);
    await expect(assertPortFree('127.0.0.1', 0, 'PORT', 'the HTTP server')).resolves.toBeUndefined();
  });

  it('names EMBEDDED_PG_PORT before the embedded cluster is created', async () => {
    const dataDir = join(dir, 'pg');
    const err = await startEmbeddedPostgres({ dataDir, port: takenPort }, silent).catch((e) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect(err.message).toMatch(new RegExp(`^Port ${takenPort} for the embedded PostgreSQL is already in use .*set EMBEDDED_PG_PORT to a free port`));
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(`${dataDir}.password`)).toBe(false);
  });
});

describe('PostgreSQL refusing to start', () => {
  it('says the data folder is in use, naming the variables, and quotes PostgreSQL', () => {
    const err = embeddedStartError(
      { port: 54329, dataDir: '/srv/tally/.data/postgres' },
      { port: 'EMBEDDED_PG_PORT', dataDir: 'EMBEDDED_PG_DATA_DIR' },
      [
        '2026-11-25 20:41:03.444 UTC [19746] FATAL:  lock file "postmaster.pid" already exists\n',
        '2026-11-25 20:41:03.444 UTC [19746] HINT:  Is another postmaster (PID 19710) running in data directory "/srv/tally/.data/postgres"?\n',
      ],
      undefined,
    );
    expect(err.message).toContain('its data folder /srv/tally/.data/postgres (EMBEDDED_PG_DATA_DIR) is in use by another PostgreSQL');
    expect(err.message).toContain('FATAL:  lock file "postmaster.pid" already exists');
    expect(err.message).toContain('HINT:  Is another postmaster (PID 19710)');
  });

  it('says which port when PostgreSQL could not bind', () => {
    const err = embeddedStartError({ port: 54329, dataDir: '/d' }, { port: 'EMBEDDED_PG_PORT', dataDir: 'EMBEDDED_PG_DATA_DIR' }, [
      'LOG:  could not bind IPv4 address "127.0.0.1": Address already in use\n',
      'FATAL:  could not create any TCP/IP sockets\n',
    ], undefined);
    expect(err.message).toContain('port 54329 (EMBEDDED_PG_PORT) is taken: set EMBEDDED_PG_PORT to a free port');
    expect(err.message).toContain('FATAL:  could not create any TCP/IP sockets');
  });
});

describe.skipIf(process.getuid?.() !== 0)('as root, a data folder the postgres user cannot reach', () => {
  it('is refused in one sentence naming the variable when it was set, and moved when it is the default', async () => {
    const closed = join(dir, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    chmodSync(dir, 0o755);
    chmodSync(closed, 0o700);
    const vars = { port: 'EMBEDDED_PG_PORT', dataDir: 'EMBEDDED_PG_DATA_DIR' };
    const err = await placeForPostgresUser(join(closed, 'pg'), vars, { defaultDataDir: false, log: silent }).catch((e) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect(err.message).toMatch(/cannot reach the data folder .*closed\/pg .*: set EMBEDDED_PG_DATA_DIR to a folder it can reach/);
    expect(err.message).not.toContain('\n');
    const moved = await placeForPostgresUser(join(closed, '.data', 'postgres'), vars, { defaultDataDir: true, log: silent });
    expect(moved.clusterDir).toMatch(/^\/var\/lib\/tally\/clusters\/closed-[0-9a-f]{10}\/postgres$/);
    rmSync(join(moved.clusterDir, '..'), { recursive: true, force: true });
    // Reachable folders stay where they are.
    const open = await placeForPostgresUser(join(dir, 'pg'), vars, { defaultDataDir: false, log: silent });
    expect(open.clusterDir).toBe(join(dir, 'pg'));
  });
});

describe('.env', () => {
  it('fills in what the environment lacks; the environment wins, even when empty', () => {
    const file = join(dir, '.env');
    writeFileSync(file, 'TALLY_TEST_A=from-file\nTALLY_TEST_B=from-file\nTALLY_TEST_C=from-file\n');
    process.env.TALLY_TEST_A = 'from-env';
    process.env.TALLY_TEST_C = '';
    try {
      expect(loadDotEnv(file)).toBe(file);
      expect(process.env.TALLY_TEST_A).toBe('from-env');
      expect(process.env.TALLY_TEST_B).toBe('from-file');
      expect(process.env.TALLY_TEST_C).toBe('');
      expect(loadDotEnv(join(dir, 'missing.env'))).toBeNull();
    } finally {
      for (const k of ['TALLY_TEST_A', 'TALLY_TEST_B', 'TALLY_TEST_C']) delete process.env[k];
    }
  });
});
