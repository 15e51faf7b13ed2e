import { z } from 'zod';

const emptyAsUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.preprocess(
  emptyAsUndefined,
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .optional(),
);

const schema = z.object({
  NODE_ENV: z.preprocess(emptyAsUndefined, z.enum(['development', 'production', 'test']).default('development')),
  HOST: z.preprocess(emptyAsUndefined, z.string().default('0.0.0.0')),
  PORT: z.preprocess(emptyAsUndefined, int(0, 65535).default(4000)),
  LOG_LEVEL: z.preprocess(
    emptyAsUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  DATABASE_URL: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  DB_POOL_MAX: z.preprocess(emptyAsUndefined, int(1, 200).default(10)),
  DB_PRIMARY_POOL_MAX: z.preprocess(emptyAsUndefined, int(1, 200).default(4)),
  DB_STATEMENT_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(0, 86_400_000).default(30_000)),
  READ_STATEMENT_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 86_400_000).default(5_000)),
  DB_MAX_CONNECTIONS_PER_REQUEST: z.preprocess(emptyAsUndefined, int(1, 200).default(2)),
  EMBEDDED_PG_PORT: z.preprocess(emptyAsUndefined, int(1024, 65535).default(54329)),
  EMBEDDED_PG_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('.data/postgres')),
  DEMO_DATA: bool,
  MAX_QUERY_DEPTH: z.preprocess(emptyAsUndefined, int(2, 100).default(12)),
  MAX_QUERY_COMPLEXITY: z.preprocess(emptyAsUndefined, int(10, 10_000_000).default(10_000)),
  MAX_ALIASES: z.preprocess(emptyAsUndefined, int(1, 1000).default(30)),
  MAX_BODY_BYTES: z.preprocess(emptyAsUndefined, int(1024, 50 * 1024 * 1024).default(100 * 1024)),
  OPS_TOKEN: optionalString,
  CURSOR_SECRET: optionalString,
  REFRESH_INTERVAL_SECONDS: z.preprocess(emptyAsUndefined, int(0, 86_400).optional()),
  REFRESH_MAX_STALENESS_SECONDS: z.preprocess(emptyAsUndefined, int(0, 86_400).optional()),
  REFRESH_DEBOUNCE_MS: z.preprocess(emptyAsUndefined, int(0, 3_600_000).optional()),
  REFRESH_STATEMENT_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 86_400_000).default(300_000)),
  REFRESH_LOCK_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 86_400_000).default(300_000)),
});

export type Config = Readonly<{
  nodeEnv: 'development' | 'production' | 'test';
  isProduction: boolean;
  host: string;
  port: number;
  logLevel: string;
  /** Unset: the embedded PostgreSQL is started under `embedded.dataDir`. */
  databaseUrl?: string;
  db: {
    /** Connections for GraphQL reads. */
    poolMax: number;
    /** Connections for writes, refreshes and the views' bookkeeping. */
    primaryPoolMax: number;
    /** statement_timeout of reads (ms): anonymous clients are cut short. */
    readStatementTimeoutMs: number;
    /** statement_timeout of writes and ops (ms; 0: none); refreshes have their own. */
    statementTimeoutMs: number;
    /** Statements one request may have in flight at once, each holding a connection. */
    maxConnectionsPerRequest: number;
  };
  embedded: { port: number; dataDir: string };
  /** Demo data is loaded into an empty catalog only on the embedded default, unless set. */
  demoData?: boolean;
  limits: { maxDepth: number; maxComplexity: number; maxAliases: number; maxBodyBytes: number };
  opsToken?: string;
  cursorSecret: string;
  refresh: {
    /** Refresh the stale views on this period; null: no scheduled refresh. */
    intervalSeconds: number | null;
    /** Refresh a view within this many seconds (plus its refresh time) of a change; null: off (docs/freshness.md). */
    maxStalenessSeconds: number | null;
    /** Quiet time after a change before refreshing, unless the bound comes first (ms). */
    debounceMs: number;
    /** statement_timeout of each REFRESH MATERIALIZED VIEW (ms). */
    statementTimeoutMs: number;
    /** How long a refresh waits for another refresher of the same views (ms). */
    lockTimeoutMs: number;
  };
}>;

/** Parses the environment once; throws one error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    db: {
      poolMax: e.DB_POOL_MAX,
      primaryPoolMax: e.DB_PRIMARY_POOL_MAX,
      readStatementTimeoutMs: e.READ_STATEMENT_TIMEOUT_MS,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
      maxConnectionsPerRequest: e.DB_MAX_CONNECTIONS_PER_REQUEST,
    },
    embedded: { port: e.EMBEDDED_PG_PORT, dataDir: e.EMBEDDED_PG_DATA_DIR },
    demoData: e.DEMO_DATA,
    limits: {
      maxDepth: e.MAX_QUERY_DEPTH,
      maxComplexity: e.MAX_QUERY_COMPLEXITY,
      maxAliases: e.MAX_ALIASES,
      maxBodyBytes: e.MAX_BODY_BYTES,
    },
    opsToken: e.OPS_TOKEN,
    // Cursors are signed so that a tampered one is rejected; the key need not be secret
    // from ops, only stable across restarts and instances.
    cursorSecret: e.CURSOR_SECRET ?? 'tally-cursor-v1',
    refresh: {
      intervalSeconds: e.REFRESH_INTERVAL_SECONDS ? e.REFRESH_INTERVAL_SECONDS : null,
      maxStalenessSeconds: e.REFRESH_MAX_STALENESS_SECONDS ? e.REFRESH_MAX_STALENESS_SECONDS : null,
      // Default: 5% of the bound, between 10 ms and 2 s.
      debounceMs: e.REFRESH_DEBOUNCE_MS ?? Math.min(2000, Math.max(10, (e.REFRESH_MAX_STALENESS_SECONDS ?? 0) * 50)),
      statementTimeoutMs: e.REFRESH_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: e.REFRESH_LOCK_TIMEOUT_MS,
    },
  });
}
