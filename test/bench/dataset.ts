import pg from 'pg';
import { migrationsList } from '../../migrations';
import { openScriptDatabase } from '../../src/database/database';
import { migrateUp } from '../../src/database/migrate';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/database/embedded';
import { seedCatalog, type SeedSizes } from '../../src/database/seed';
import { createLogger } from '../../src/logger';
import { refreshAllViews } from '../../src/modules/views/ops/refresh';

/** 10 roots, 5 children each, 4 levels: 1,560 categories at every scale. */
const TREE = { roots: 10, branching: 5, depth: 4, unreviewedShare: 0.1 };
export const SCALES = {
  small: { ...TREE, items: 10_000, reviews: 200_000 },
  medium: { ...TREE, items: 100_000, reviews: 2_000_000 },
  large: { ...TREE, items: 100_000, reviews: 20_000_000 },
} satisfies Record<string, SeedSizes>;
export type Scale = keyof typeof SCALES;

export interface BenchDatabase {
  name: string;
  url: string;
  /** Where it runs, without credentials. */
  server: string;
  serverVersion: string;
  counts: { categories: number; items: number; reviews: number };
  /** Seconds spent generating the data; null when it was reused. */
  seedSeconds: number | null;
  close(): Promise<void>;
}

/**
 * The index PostGraphile's nulls-last rating sort needs (tally's own indexes sort on
 * coalesce()), holding the count as tally's does (gear_item_stats v3); the only object the
 * bench adds to tally's schema.
 */
export const POSTGRAPHILE_INDEX = 'bench_postgraphile_rating_idx';
export const CREATE_POSTGRAPHILE_INDEX = `create index if not exists ${POSTGRAPHILE_INDEX} on gear_item_stats (review_rating desc nulls last, gear_item_id) include (review_count)`;

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-monitor' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The database tally_bench_<scale>, on DATABASE_URL's server or else on an embedded cluster
 * of the bench's own (.data/bench-pg): migrated, seeded with generate_series (seed.ts), views
 * refreshed, vacuumed and analysed. A database already seeded at these sizes under the same
 * migrations is reused; its comment says so, and is written only once everything is in.
 */
export async function prepareDatabase(scale: Scale, progress: (msg: string) => void): Promise<BenchDatabase> {
  const sizes = SCALES[scale];
  const log = createLogger('warn');
  const name = `tally_bench_${scale}`;
  // Data made under other migrations is made afresh: a migration may rebuild what the data fills.
  const marker = `tally bench data: ${JSON.stringify(sizes)}; migrations: ${migrationsList.map((m) => m.name).join(', ')}`;
  let embedded: EmbeddedDatabase | null = null;
  let adminUrl = process.env.DATABASE_URL;
  let server: string;
  if (adminUrl) {
    const u = new URL(adminUrl);
    server = `${u.hostname}:${u.port || 5432} (DATABASE_URL)`;
  } else {
    const dataDir = process.env.BENCH_PG_DATA_DIR ?? '.data/bench-pg';
    const port = Number(process.env.BENCH_PG_PORT ?? 54359);
    progress(`starting the bench's embedded PostgreSQL (${dataDir}, port ${port})`);
    embedded = await startEmbeddedPostgres({ dataDir, port }, log);
    adminUrl = embedded.adminUrl;
    server = `embedded, ${dataDir} (port ${port})`;
  }
  try {
    const found = await withClient(adminUrl, async (c) => {
      const { rows } = await c.query<{ note: string | null }>(
        `select shobj_description(oid, 'pg_database') as note from pg_database where datname = $1`,
        [name],
      );
      const reuse = rows.length > 0 && rows[0].note === marker;
      if (!reuse) {
        // Ours by name; whatever is there was left half-seeded or at other sizes.
        if (rows.length) progress(`${name} holds other or unfinished data: dropping it`);
        await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
        await c.query(`create database ${c.escapeIdentifier(name)}`);
      }
      return reuse;
    });
    const url = withDatabase(adminUrl, name);
    await migrateUp(url, log);
    const db = openScriptDatabase(url, log);
    let seedSeconds: number | null = null;
    try {
      if (found) {
        progress(`reusing ${name} (seeded earlier at these sizes)`);
      } else {
        const started = Date.now();
        const sql = db.primary;
        await ticking(progress, started, async (say) => {
          await seedCatalog(sql, sizes, (m) => say(`seeding ${m}`));
          say('refreshing the views');
          await refreshAllViews(sql, { by: 'seed', log, concurrently: false });
        });
        await withClient(url, async (c) => {
          progress('vacuum analyze');
          await c.query('vacuum analyze');
          await c.query(`comment on database ${c.escapeIdentifier(name)} is ${c.escapeLiteral(marker)}`);
        });
        seedSeconds = (Date.now() - started) / 1000;
        progress(`seeded in ${seedSeconds.toFixed(1)} s`);
      }
    } finally {
      await db.close();
    }
    const { counts, serverVersion } = await withClient(url, async (c) => {
      await c.query(CREATE_POSTGRAPHILE_INDEX);
      const { rows } = await c.query<BenchDatabase['counts'] & { version: string }>(
        `select (select count(*)::int from gear_category) as categories, (select count(*)::int from gear_item) as items,
                (select count(*)::int from gear_review) as reviews, current_setting('server_version') as version`,
      );
      const { version, ...n } = rows[0];
      return { counts: n, serverVersion: version };
    });
    return { name, url, server, serverVersion, counts, seedSeconds, close: async () => void (await embedded?.stop()) };
  } catch (err) {
    await embedded?.stop().catch(() => {});
    throw err;
  }
}

/** Runs a long step, saying every 10 s which part of it is still going. */
async function ticking(progress: (msg: string) => void, started: number, fn: (say: (msg: string) => void) => Promise<void>) {
  let current = '';
  const say = (msg: string) => {
    current = msg;
    progress(msg);
  };
  const timer = setInterval(() => progress(`  … ${current} (${Math.round((Date.now() - started) / 1000)} s)`), 10_000);
  try {
    await fn(say);
  } finally {
    clearInterval(timer);
  }
}
