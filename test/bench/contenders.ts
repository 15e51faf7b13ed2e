import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { postgraphileQuery, rowsFromPostgraphile, rowsFromTally, tallyQuery, type CaseName, type Rows } from './queries';

export type ContenderKey = 'tally' | 'floor' | 'postgraphile' | 'postgraphile5';
/** The order each round runs them in. */
export const CONTENDERS: readonly ContenderKey[] = ['tally', 'floor', 'postgraphile', 'postgraphile5'];
/** The PostGraphile versions tally is compared with: the goals take the faster of them. */
export const POSTGRAPHILES = ['postgraphile', 'postgraphile5'] as const;
export const CONTENDER_TITLES: Record<ContenderKey, string> = {
  tally: 'tally (dist, production)',
  floor: 'floor (node:http + pg, prepared)',
  postgraphile: 'PostGraphile 4.14',
  postgraphile5: 'PostGraphile 5.1.5',
};
/** application_name of each server's connections, to find their backends in pg_stat_activity. */
export const APPLICATION_NAMES: Record<ContenderKey, string> = {
  tally: 'tally',
  floor: 'bench-floor',
  postgraphile: 'bench-postgraphile',
  postgraphile5: 'bench-postgraphile5',
};

/** The checkout: compiled bench code runs from dist/test/bench. */
export const ROOT = resolve(__dirname, '..', '..', '..');
export const POSTGRAPHILE_DIR = join(ROOT, 'test', 'bench', 'postgraphile');
export const POSTGRAPHILE5_DIR = join(ROOT, 'test', 'bench', 'postgraphile5');

export interface Request {
  url: string;
  body: string;
}

export interface RunningContender {
  key: ContenderKey;
  pid: number;
  request(c: CaseName): Request;
  /** Sends one request and reads the answer as rows (throws on an error or a bad status). */
  fetchRows(c: CaseName): Promise<{ rows: Rows; body: string }>;
  stop(): Promise<void>;
}

export async function startContender(
  key: ContenderKey,
  opts: { databaseUrl: string; port: number; rootId: number; logName: string; env?: Record<string, string> },
): Promise<RunningContender> {
  const base = `http://127.0.0.1:${opts.port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', BENCH_DATABASE_URL: opts.databaseUrl, BENCH_PORT: String(opts.port) };
  let script: string;
  let request: (c: CaseName) => Request;
  switch (key) {
    case 'tally':
      // As `npm start` runs it, in production mode, on the bench database.
      script = join(ROOT, 'dist', 'src', 'main.js');
      Object.assign(env, { DATABASE_URL: opts.databaseUrl, HOST: '127.0.0.1', PORT: String(opts.port), DEMO_DATA: 'false' });
      // The bench measures the query engine from one address at full speed: per-client budgets
      // and the heavy-request gate would measure themselves (BENCH_RATE_LIMIT=on keeps the
      // budgets, never spent; docs/security.md has the limiter's cost on against off).
      Object.assign(env, {
        RATE_LIMIT: process.env.BENCH_RATE_LIMIT ?? 'off',
        RATE_LIMIT_POINTS: '1000000000',
        HEAVY_QUERY_COST: '100000000',
        HTTP_MAX_CONNECTIONS_PER_ADDRESS: '0',
        // The main comparison times the pipeline; the response cache has its own section (cache-section.ts).
        RESPONSE_CACHE: process.env.BENCH_RESPONSE_CACHE ?? 'off',
      });
      delete env.LOG_LEVEL;
      request = (c) => ({ url: `${base}/graphql`, body: JSON.stringify({ query: tallyQuery(c, opts.rootId) }) });
      break;
    case 'floor':
      script = join(ROOT, 'dist', 'test', 'bench', 'floor-server.js');
      env.BENCH_ROOT_ID = String(opts.rootId);
      request = (c) => ({ url: `${base}/${c}`, body: JSON.stringify({ query: tallyQuery(c, opts.rootId) }) });
      break;
    case 'postgraphile':
      script = join(ROOT, 'dist', 'test', 'bench', 'postgraphile-server.js');
      env.BENCH_POSTGRAPHILE_DIR = POSTGRAPHILE_DIR;
      request = (c) => ({ url: `${base}/graphql`, body: JSON.stringify({ query: postgraphileQuery(c, opts.rootId) }) });
      break;
    case 'postgraphile5':
      // The V4 preset gives the same schema: the same queries, read the same way.
      script = join(ROOT, 'dist', 'test', 'bench', 'postgraphile5-server.js');
      env.BENCH_POSTGRAPHILE_DIR = POSTGRAPHILE5_DIR;
      request = (c) => ({ url: `${base}/graphql`, body: JSON.stringify({ query: postgraphileQuery(c, opts.rootId) }) });
      break;
  }
  Object.assign(env, opts.env);
  const logDir = join(ROOT, '.data', 'bench-logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${opts.logName}.log`);
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(process.execPath, [script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));

  const post = async (r: Request) => {
    const res = await fetch(r.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: r.body });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${key}: HTTP ${res.status}: ${body.slice(0, 500)}`);
    return body;
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 250))]);
    if (gone) throw new Error(`${key} exited while starting; see ${logFile}`);
    try {
      await post(request('tree'));
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${key} did not answer within 90 s (${(err as Error).message}); see ${logFile}`);
      }
    }
  }
  const toRows = key === 'postgraphile' || key === 'postgraphile5' ? rowsFromPostgraphile : rowsFromTally;
  return {
    key,
    pid: child.pid as number,
    request,
    async fetchRows(c) {
      const body = await post(request(c));
      return { rows: toRows(c, JSON.parse(body)), body };
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

