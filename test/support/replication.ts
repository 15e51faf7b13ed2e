import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';

// A primary and a hot standby streaming from it, on loopback, from Debian's PostgreSQL 15
// binaries (the embedded bundle has no pg_basebackup). Used by test/replicas.test.ts and
// the reliability script's replica phase. The clusters live in a temp folder that close()
// deletes; as root they run as the postgres user (PostgreSQL refuses to run as root).

const run = promisify(execFile);

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why a primary and standby cannot be started here, or null when they can. */
export function replicationUnavailable(): string | null {
  for (const bin of ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres']) {
    if (!existsSync(join(PG_BIN, bin))) return `${join(PG_BIN, bin)} is missing (install postgresql-15, or set PG_BIN)`;
  }
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no postgres user to run PostgreSQL as';
  return null;
}

function postgresUser(): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** A free loopback port (taken from the kernel, then released for the cluster to bind). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

export interface ReplicationPair {
  dir: string;
  primaryPort: number;
  standbyPort: number;
  primaryUrl(database?: string): string;
  standbyUrl(database?: string): string;
  /** One statement on the primary / the standby, on a connection of its own. */
  onPrimary<T = Record<string, unknown>>(text: string, values?: unknown[], database?: string): Promise<T[]>;
  onStandby<T = Record<string, unknown>>(text: string, values?: unknown[], database?: string): Promise<T[]>;
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Waits until the standby has replayed everything the primary had written when called. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  /** Sets standby settings (postgresql.conf) and reloads them. */
  configureStandby(settings: Record<string, string>): Promise<void>;
  stopStandby(mode?: 'fast' | 'immediate'): Promise<void>;
  startStandby(): Promise<void>;
  /** Stops both clusters and deletes their data; safe to call twice and after a failed start. */
  close(): Promise<void>;
}

/**
 * initdb a primary (wal_level=replica, trust on 127.0.0.1 including replication,
 * pg_stat_statements loaded), start it, pg_basebackup -R a standby from it, start that, and
 * wait until it streams. Ports are free ones unless given.
 */
export async function startReplicationPair(
  opts: { primaryPort?: number; standbyPort?: number; standbySettings?: Record<string, string> } = {},
): Promise<ReplicationPair> {
  const user = process.getuid?.() === 0 ? postgresUser() : null;
  const dir = mkdtempSync(join(tmpdir(), 'tally-replication-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const primaryDir = join(dir, 'primary');
  const standbyDir = join(dir, 'standby');
  const primaryPort = opts.primaryPort ?? (await freeLoopbackPort());
  const standbyPort = opts.standbyPort ?? (await freeLoopbackPort());
  const asPostgres = async (bin: string, args: string[], timeoutMs = 60_000) => {
    const [file, argv] = user ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args];
    try {
      return await run(file, argv, { timeout: timeoutMs, cwd: dir });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${bin} ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  };
  const conf = (dataDir: string, settings: Record<string, string>) =>
    appendFileSync(join(dataDir, 'postgresql.conf'), Object.entries(settings).map(([k, v]) => `${k} = '${v}'\n`).join(''));
  const pgCtl = (dataDir: string, action: string, extra: string[] = []) =>
    asPostgres('pg_ctl', ['-D', dataDir, '-l', `${dataDir}.log`, '-w', '-t', '60', ...extra, action], 90_000);

  const url = (port: number, database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const one = async <T>(port: number, text: string, values: unknown[] = [], database = 'postgres'): Promise<T[]> => {
    const client = new Client({ connectionString: url(port, database), application_name: 'tally-test-admin' });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  };
  let standbyUp = false;
  let primaryUp = false;
  const pair: ReplicationPair = {
    dir,
    primaryPort,
    standbyPort,
    primaryUrl: (db) => url(primaryPort, db),
    standbyUrl: (db) => url(standbyPort, db),
    onPrimary: (text, values, db) => one(primaryPort, text, values, db),
    onStandby: (text, values, db) => one(standbyPort, text, values, db),
    pauseReplay: async () => {
      await one(standbyPort, 'select pg_wal_replay_pause()');
    },
    resumeReplay: async () => {
      await one(standbyPort, 'select pg_wal_replay_resume()');
    },
    async waitForReplay(timeoutMs = 20_000) {
      // The insert position: a VACUUM writes no commit record, so its WAL may not be written
      // out yet (the WAL writer does it within wal_writer_delay).
      const [{ lsn }] = await one<{ lsn: string }>(primaryPort, 'select pg_current_wal_insert_lsn()::text as lsn');
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const [{ done }] = await one<{ done: boolean }>(standbyPort, 'select pg_last_wal_replay_lsn() >= $1::pg_lsn as done', [lsn]);
        if (done) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`the standby did not replay up to ${lsn} within ${timeoutMs} ms`);
    },
    async configureStandby(settings) {
      conf(standbyDir, settings);
      await one(standbyPort, 'select pg_reload_conf()');
      // The reload is signalled, not awaited: wait until the settings show.
      for (let i = 0; i < 200; i++) {
        const rows = await one<{ name: string; setting: string; unit: string | null }>(
          standbyPort,
          'select name, setting, unit from pg_settings where name = any($1)',
          [Object.keys(settings)],
        );
        if (rows.every((r) => sameSetting(r, settings[r.name]))) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`the standby did not take ${JSON.stringify(settings)}`);
    },
    async stopStandby(mode = 'fast') {
      await pgCtl(standbyDir, 'stop', ['-m', mode]);
      standbyUp = false;
    },
    async startStandby() {
      await pgCtl(standbyDir, 'start');
      standbyUp = true;
    },
    async close() {
      if (standbyUp) await pgCtl(standbyDir, 'stop', ['-m', 'immediate']).catch(() => {});
      if (primaryUp) await pgCtl(primaryDir, 'stop', ['-m', 'immediate']).catch(() => {});
      standbyUp = primaryUp = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await asPostgres('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']);
    conf(primaryDir, {
      listen_addresses: '127.0.0.1',
      port: String(primaryPort),
      unix_socket_directories: dir,
      wal_level: 'replica',
      max_wal_senders: '4',
      hot_standby: 'on',
      max_connections: '60',
      shared_buffers: '32MB',
      // Throwaway clusters: durability costs time and buys nothing here.
      fsync: 'off',
      full_page_writes: 'off',
      shared_preload_libraries: 'pg_stat_statements',
      // The standby tells the primary where it is every second (pg_stat_replication).
      wal_receiver_status_interval: '1s',
    });
    await pgCtl(primaryDir, 'start');
    primaryUp = true;
    await asPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', standbyDir, '-R', '-X', 'stream', '-c', 'fast']);
    conf(standbyDir, { port: String(standbyPort), ...opts.standbySettings });
    await pgCtl(standbyDir, 'start');
    standbyUp = true;
    for (let i = 0; ; i++) {
      const rows = await one<{ n: number }>(primaryPort, "select count(*)::int as n from pg_stat_replication where state = 'streaming'");
      if (rows[0].n > 0) break;
      if (i > 400) throw new Error('the standby did not start streaming');
      await new Promise((r) => setTimeout(r, 25));
    }
    return pair;
  } catch (err) {
    await pair.close();
    throw err;
  }
}

/** pg_settings shows '100' with unit 'ms' for '100ms', 'on' for on. */
function sameSetting(row: { setting: string; unit: string | null }, wanted: string): boolean {
  if (row.setting === wanted) return true;
  const m = /^(-?\d+)\s*(ms|s|min)?$/.exec(wanted);
  if (!m) return false;
  const factor = { ms: 1, s: 1000, min: 60_000 }[(m[2] ?? row.unit ?? 'ms') as 'ms' | 's' | 'min'] ?? 1;
  const unitFactor = row.unit === 's' ? 1000 : row.unit === 'min' ? 60_000 : 1;
  return Number(row.setting) * unitFactor === Number(m[1]) * factor || (m[1] === '-1' && row.setting === '-1');
}
