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
  DATABASE_REPLICA_URLS: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .transform((v) => v.split(',').map((u) => u.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^postgres(ql)?:\/\//, 'each must be a postgres:// or postgresql:// URL')))
      .optional(),
  ),
  DB_REPLICA_POOL_MAX: z.preprocess(emptyAsUndefined, int(1, 200).default(10)),
  REPLICA_MAX_LAG_SECONDS: z.preprocess(emptyAsUndefined, z.coerce.number().min(0).max(86_400).default(5)),
  REPLICA_LAG_CHECK_MS: z.preprocess(emptyAsUndefined, int(50, 60_000).default(1000)),
  EMBEDDED_PG_PORT: z.preprocess(emptyAsUndefined, int(1024, 65535).default(54329)),
  EMBEDDED_PG_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('.data/postgres')),
  DEMO_DATA: bool,
  MAX_QUERY_DEPTH: z.preprocess(emptyAsUndefined, int(2, 100).default(12)),
  MAX_QUERY_COMPLEXITY: z.preprocess(emptyAsUndefined, int(10, 10_000_000).default(10_000)),
  MAX_ALIASES: z.preprocess(emptyAsUndefined, int(1, 1000).default(80)),
  MAX_BODY_BYTES: z.preprocess(emptyAsUndefined, int(1024, 50 * 1024 * 1024).default(100 * 1024)),
  OPS_TOKEN: optionalString,
  CURSOR_SECRET: optionalString,
  REFRESH_INTERVAL_SECONDS: z.preprocess(emptyAsUndefined, int(0, 86_400).optional()),
  REFRESH_MAX_STALENESS_SECONDS: z.preprocess(emptyAsUndefined, int(0, 86_400).optional()),
  REFRESH_DEBOUNCE_MS: z.preprocess(emptyAsUndefined, int(0, 3_600_000).optional()),
  REFRESH_STATEMENT_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 86_400_000).default(300_000)),
  REFRESH_LOCK_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 86_400_000).default(300_000)),
  CORS_ORIGINS: z.preprocess(emptyAsUndefined, z.string().optional().transform(parseOrigins)),
  CORS_CREDENTIALS: bool,
  METRICS_TOKEN: optionalString,
  // Request bounds and rate limits: see docs/security.md.
  MAX_QUERY_TOKENS: z.preprocess(emptyAsUndefined, int(50, 1_000_000).default(1000)),
  MAX_QUERY_SELECTIONS: z.preprocess(emptyAsUndefined, int(10, 10_000_000).default(2000)),
  COST_COUNT_ROWS_PER_POINT: z.preprocess(emptyAsUndefined, int(1, 10_000_000).default(20)),
  REQUEST_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 600_000).default(5000)),
  MAX_RESPONSE_FIELDS: z.preprocess(emptyAsUndefined, int(100, 100_000_000).default(50_000)),
  HEAVY_QUERY_COST: z.preprocess(emptyAsUndefined, int(1, 100_000_000).default(2000)),
  HEAVY_QUERY_CONCURRENCY: z.preprocess(emptyAsUndefined, int(1, 1000).default(1)),
  HEAVY_QUERY_QUEUE: z.preprocess(emptyAsUndefined, int(0, 100_000).default(16)),
  HEAVY_QUERY_POINTS_PER_SECOND: z.preprocess(emptyAsUndefined, int(1, 1_000_000_000).default(5000)),
  RATE_LIMIT: z.preprocess(emptyAsUndefined, z.enum(['on', 'off']).optional()),
  RATE_LIMIT_POINTS: z.preprocess(emptyAsUndefined, int(1, 1_000_000_000).default(60_000)),
  RATE_LIMIT_WINDOW_SECONDS: z.preprocess(emptyAsUndefined, int(1, 86_400).default(10)),
  RATE_LIMIT_REQUEST_POINTS: z.preprocess(emptyAsUndefined, int(0, 1_000_000).default(50)),
  RATE_LIMIT_WRITES: z.preprocess(emptyAsUndefined, int(1, 1_000_000_000).default(20)),
  RATE_LIMIT_WRITES_WINDOW_SECONDS: z.preprocess(emptyAsUndefined, int(1, 86_400).default(60)),
  RATE_LIMIT_SYNC_MS: z.preprocess(emptyAsUndefined, int(50, 60_000).default(1000)),
  RATE_LIMIT_KEY_HEADER: z.preprocess(emptyAsUndefined, z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name').optional()),
  TRUST_PROXY: z.preprocess(emptyAsUndefined, z.string().optional()),
  // The response cache: see docs/cache.md.
  RESPONSE_CACHE: z.preprocess(emptyAsUndefined, z.enum(['on', 'off']).default('on')),
  RESPONSE_CACHE_MAX_MB: z.preprocess(emptyAsUndefined, int(1, 100_000).default(64)),
  // Compiled execution with graphql-jit: see docs/development.md.
  GRAPHQL_JIT: z.preprocess(emptyAsUndefined, z.enum(['on', 'off']).default('on')),
  GRAPHQL_JIT_COMPILE_AFTER: z.preprocess(emptyAsUndefined, int(1, 1_000_000).default(10)),
  GRAPHQL_JIT_MAX_SELECTIONS: z.preprocess(emptyAsUndefined, int(1, 10_000_000).default(500)),
  GRAPHQL_JIT_CACHE_SELECTIONS: z.preprocess(emptyAsUndefined, int(1, 100_000_000).default(20_000)),
  HTTP_HEADERS_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(1000, 600_000).default(10_000)),
  HTTP_REQUEST_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(1000, 600_000).default(30_000)),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.preprocess(emptyAsUndefined, int(100, 600_000).default(5000)),
  HTTP_MAX_CONNECTIONS: z.preprocess(emptyAsUndefined, int(1, 1_000_000).default(1000)),
  HTTP_MAX_CONNECTIONS_PER_ADDRESS: z.preprocess(emptyAsUndefined, int(0, 1_000_000).default(64)),
}).superRefine((e, ctx) => {
  // Standbys of the embedded database cannot exist; they would be another server's.
  if (e.DATABASE_REPLICA_URLS?.length && !e.DATABASE_URL) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_REPLICA_URLS'], message: 'needs DATABASE_URL: the primary the standbys replicate' });
  }
});

/** `*` or a comma-separated list of origins (scheme://host[:port], as browsers send them). */
function parseOrigins(v: string | undefined, ctx: z.RefinementCtx): string[] | '*' {
  if (v === undefined) return [];
  if (v.trim() === '*') return '*';
  const origins = v.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean);
  for (const o of origins) {
    let origin: string | undefined;
    try {
      origin = new URL(o).origin;
    } catch {}
    if (origin !== o) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(o)} is not an origin like https://app.example.com` });
  }
  return origins;
}

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
  /** Hot standbys that serve reads (empty: every read goes to the primary). */
  replicas: {
    urls: readonly string[];
    /** Connections per replica. */
    poolMax: number;
    /** A replica further behind than this is out of rotation until it catches up. */
    maxLagSeconds: number;
    /** How often each replica's lag is measured (ms). */
    lagCheckMs: number;
  };
  embedded: { port: number; dataDir: string };
  /** Demo data is loaded into an empty catalog only on the embedded default, unless set. */
  demoData?: boolean;
  limits: {
    maxDepth: number;
    maxComplexity: number;
    maxAliases: number;
    maxBodyBytes: number;
    /** Tokens a document may have: counted while parsing, which stops at the limit. */
    maxTokens: number;
    /** Selections an operation may have with every fragment spread expanded. */
    maxSelections: number;
    /** Rows a count may touch per cost point. */
    countRowsPerPoint: number;
    /** Execution deadline of one request (ms). */
    requestTimeoutMs: number;
    /** Fields one response may hold. */
    maxResponseFields: number;
    /** Requests costing at least `cost` run `concurrency` at a time, `queue` more wait. */
    heavy: { cost: number; concurrency: number; queue: number; pointsPerSecond: number };
  };
  /** Cost budgets per client; null: off. */
  rateLimit: {
    points: number;
    windowSeconds: number;
    /** Points every request costs on top of its query's cost, refused ones included. */
    requestPoints: number;
    writes: number;
    writesWindowSeconds: number;
    /** How often local buckets are reconciled with the shared store (ms). */
    syncMs: number;
    /** Header that names the client instead of its IP address. */
    keyHeader?: string;
  } | null;
  /** express's `trust proxy` (unset: the socket's address is the client's). */
  trustProxy?: string;
  /** Whole responses kept until something they read changes (docs/cache.md); null: off. */
  responseCache: { maxBytes: number } | null;
  /** Queries run compiled by graphql-jit (execution/jit-gateway.ts); null: graphql-js runs every one. */
  jit: { compileAfter: number; maxSelections: number; cacheSelections: number } | null;
  http: { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number; maxConnections: number; maxConnectionsPerAddress: number };
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
  /** Origins that browsers may call /graphql from (none: same origin only). */
  cors: { origins: readonly string[] | '*'; credentials: boolean };
  /** Bearer token that GET /metrics asks for; unset: open. */
  metricsToken?: string;
}>;

/** Parses the environment once; throws one error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const isProduction = e.NODE_ENV === 'production';
  const problems = [
    ...(isProduction && e.CORS_ORIGINS === '*' ? ['  CORS_ORIGINS: "*" is refused in production; list the origins'] : []),
    ...(e.CORS_ORIGINS === '*' && e.CORS_CREDENTIALS ? ['  CORS_CREDENTIALS: browsers refuse credentials with CORS_ORIGINS=*'] : []),
  ];
  if (problems.length) throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
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
    replicas: {
      urls: Object.freeze(e.DATABASE_REPLICA_URLS ?? []),
      poolMax: e.DB_REPLICA_POOL_MAX,
      maxLagSeconds: e.REPLICA_MAX_LAG_SECONDS,
      lagCheckMs: e.REPLICA_LAG_CHECK_MS,
    },
    embedded: { port: e.EMBEDDED_PG_PORT, dataDir: e.EMBEDDED_PG_DATA_DIR },
    demoData: e.DEMO_DATA,
    limits: {
      maxDepth: e.MAX_QUERY_DEPTH,
      maxComplexity: e.MAX_QUERY_COMPLEXITY,
      maxAliases: e.MAX_ALIASES,
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxTokens: e.MAX_QUERY_TOKENS,
      maxSelections: e.MAX_QUERY_SELECTIONS,
      countRowsPerPoint: e.COST_COUNT_ROWS_PER_POINT,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      maxResponseFields: e.MAX_RESPONSE_FIELDS,
      heavy: { cost: e.HEAVY_QUERY_COST, concurrency: e.HEAVY_QUERY_CONCURRENCY, queue: e.HEAVY_QUERY_QUEUE, pointsPerSecond: e.HEAVY_QUERY_POINTS_PER_SECOND },
    },
    // On by default in production only.
    rateLimit:
      (e.RATE_LIMIT ?? (e.NODE_ENV === 'production' ? 'on' : 'off')) === 'on'
        ? {
            points: e.RATE_LIMIT_POINTS,
            windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
            requestPoints: e.RATE_LIMIT_REQUEST_POINTS,
            writes: e.RATE_LIMIT_WRITES,
            writesWindowSeconds: e.RATE_LIMIT_WRITES_WINDOW_SECONDS,
            syncMs: e.RATE_LIMIT_SYNC_MS,
            keyHeader: e.RATE_LIMIT_KEY_HEADER?.toLowerCase(),
          }
        : null,
    trustProxy: e.TRUST_PROXY,
    responseCache: e.RESPONSE_CACHE === 'on' ? { maxBytes: e.RESPONSE_CACHE_MAX_MB * 1024 * 1024 } : null,
    jit:
      e.GRAPHQL_JIT === 'on'
        ? { compileAfter: e.GRAPHQL_JIT_COMPILE_AFTER, maxSelections: e.GRAPHQL_JIT_MAX_SELECTIONS, cacheSelections: e.GRAPHQL_JIT_CACHE_SELECTIONS }
        : null,
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      maxConnectionsPerAddress: e.HTTP_MAX_CONNECTIONS_PER_ADDRESS,
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
    cors: { origins: e.CORS_ORIGINS, credentials: e.CORS_CREDENTIALS ?? false },
    metricsToken: e.METRICS_TOKEN,
  });
}
