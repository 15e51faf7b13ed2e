import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { loadDotEnv } from '../env-file';
import { loadConfig } from '../config';
import { openMigratedDatabase } from '../database/bootstrap';
import { DEMO_SIZES, catalogIsEmpty, seedCatalog, type SeedSizes } from '../database/seed';
import { createLogger } from '../logger';
import { refreshAllViews } from '../modules/views/ops/refresh';

const USAGE = `npm run seed -- [--items N] [--reviews N] [--roots N] [--branching N] [--depth N] [--unreviewed 0..1] [--force]
Loads generated gear into the catalog of DATABASE_URL (or the embedded database), then
populates the views. Refuses a catalog that already has data unless --force.`;

async function main() {
  const { values } = parseArgs({
    options: {
      items: { type: 'string' },
      reviews: { type: 'string' },
      roots: { type: 'string' },
      branching: { type: 'string' },
      depth: { type: 'string' },
      unreviewed: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const num = (v: string | undefined, fallback: number, min: number, max: number, name: string) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in ${min}..${max}`);
    return n;
  };
  const sizes: SeedSizes = {
    items: num(values.items, DEMO_SIZES.items, 0, 10_000_000, 'items'),
    reviews: num(values.reviews, DEMO_SIZES.reviews, 0, 100_000_000, 'reviews'),
    roots: num(values.roots, DEMO_SIZES.roots, 0, 1000, 'roots'),
    branching: num(values.branching, DEMO_SIZES.branching, 0, 100, 'branching'),
    depth: num(values.depth, DEMO_SIZES.depth, 1, 10, 'depth'),
    unreviewedShare: num(values.unreviewed, DEMO_SIZES.unreviewedShare, 0, 1, 'unreviewed'),
  };
  loadDotEnv();
  const config = loadConfig({ ...process.env, DEMO_DATA: 'false' });
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  // Millions of rows in one statement: no statement timeout.
  const db = await openMigratedDatabase(config, log, { statementTimeoutMs: 0 });
  try {
    const sql = db.db.primary;
    if (!(await catalogIsEmpty(sql)) && !values.force) {
      throw new Error('the catalog already has data; pass --force to add to it');
    }
    const started = Date.now();
    const counts = await seedCatalog(sql, sizes, (m) => console.log(`seeding ${m}`));
    console.log('refreshing views');
    await refreshAllViews(sql, { by: 'seed', log });
    console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s:`, counts);
  } finally {
    await db.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
