import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from '../database/pool-stats';
import { ForbiddenError, UnauthenticatedError } from '../errors';
import type { Logger } from '../logger';
import { requireOpsToken } from '../modules/auth/ops-token';
import type { RefreshObserver } from '../modules/views/ops/views.service';
import type { ViewStatus } from '../modules/views/ops/status';

export interface MetricsOptions {
  log: Logger;
  /** Freshness as the database has it (every instance reads the same, whoever refreshed). */
  viewStatuses(): Promise<ViewStatus[]>;
  /** Each pool's connections, by pool name (reads, primary, …). */
  poolStats(): Record<string, PoolStats>;
  /** Bearer token that a scrape must send; unset: open. */
  token?: string;
  /** The response cache, when on: its size is reported when scraped. */
  responseCache?: { readonly bytes: number; readonly size: number };
  /** How long one read of the views' freshness serves scrapes (ms). */
  viewStatusCacheMs?: number;
}

/** Distinct operation names labelled; later new names are counted as `other`. */
const MAX_OPERATION_NAMES = 100;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * tally's Prometheus metrics, in a registry of its own (one per server: tests run several in
 * one process). GraphQL requests are observed by an Apollo plugin, refreshes by a
 * RefreshObserver on the view service; the views' age and staleness are read from the
 * database when scraped, so they are right on every instance whichever one refreshed.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();
  private statuses: { at: number; value: Promise<ViewStatus[] | null> } | null = null;

  private readonly requestDuration = new Histogram({
    name: 'tally_graphql_request_duration_seconds',
    help: 'GraphQL requests, from receipt to response, by operation name (anonymous, unknown when unparsed, other past the first 100 names) and outcome (ok, error).',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'tally_graphql_errors_total',
    help: 'Errors in GraphQL responses, by extensions.code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  private readonly refreshDuration = new Histogram({
    name: 'tally_view_refresh_duration_seconds',
    help: 'Refreshes of a materialized view made by this instance, by view and trigger (mutation, schedule, freshness).',
    labelNames: ['view', 'trigger'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  private readonly refreshFailures = new Counter({
    name: 'tally_view_refresh_failures_total',
    help: 'Refresh runs of this instance that failed, by the view they failed on and trigger; the run was rolled back.',
    labelNames: ['view', 'trigger'] as const,
    registers: [this.registry],
  });

  /** Counted by the response cache's middleware (cache/response-cache.ts). */
  readonly responseCache = {
    hits: new Counter({
      name: 'tally_response_cache_hits_total',
      help: 'GraphQL requests answered from the response cache.',
      registers: [this.registry],
    }),
    misses: new Counter({
      name: 'tally_response_cache_misses_total',
      help: 'GraphQL requests the response cache could have answered but had no current answer for (computed, and stored when storable).',
      registers: [this.registry],
    }),
  };

  constructor(private readonly opts: MetricsOptions) {
    collectDefaultMetrics({ register: this.registry });
    const metrics = this;
    const cache = opts.responseCache;
    if (cache) {
      new Gauge({
        name: 'tally_response_cache_bytes',
        help: 'Bytes held by the response cache (its bound is RESPONSE_CACHE_MAX_MB).',
        registers: [this.registry],
        collect() {
          this.set(cache.bytes);
        },
      });
      new Gauge({
        name: 'tally_response_cache_entries',
        help: 'Answers held by the response cache.',
        registers: [this.registry],
        collect() {
          this.set(cache.size);
        },
      });
    }
    const viewGauge = (name: string, help: string, value: (s: ViewStatus, now: number) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['view'] as const,
        registers: [this.registry],
        async collect() {
          this.reset();
          const statuses = await metrics.viewStatuses();
          const now = Date.now();
          for (const s of statuses ?? []) {
            const v = value(s, now);
            if (v !== null) this.set({ view: s.name }, v);
          }
        },
      });
    viewGauge('tally_view_age_seconds', 'Seconds since the last refresh of the view finished (absent when never refreshed).', (s, now) =>
      s.lastRefreshedAt ? Math.max(0, (now - s.lastRefreshedAt.getTime()) / 1000) : null,
    );
    viewGauge('tally_view_stale', '1 when a table the view reads changed after its last refresh began, or it was never refreshed.', (s) => (s.stale ? 1 : 0));
    viewGauge('tally_view_populated', '0 when the view holds no data (reading it fails).', (s) => (s.populated ? 1 : 0));
    new Gauge({
      name: 'tally_view_status_up',
      help: '1 when the last scrape could read the views’ freshness from the database, 0 when it could not (the view gauges are then absent).',
      registers: [this.registry],
      async collect() {
        this.set((await metrics.viewStatuses()) ? 1 : 0);
      },
    });
    const poolGauge = (name: string, help: string, key: keyof PoolStats) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers: [this.registry],
        collect() {
          for (const [pool, stats] of Object.entries(opts.poolStats())) this.set({ pool }, stats[key]);
        },
      });
    poolGauge('tally_db_pool_connections_in_use', 'Database connections checked out of the pool, by pool.', 'inUse');
    poolGauge('tally_db_pool_connections_idle', 'Open database connections free in the pool, by pool.', 'idle');
    poolGauge('tally_db_pool_waiting', 'Requests waiting for a database connection, by pool.', 'waiting');
  }

  /** One read of the views' freshness serves every gauge of a scrape, and scrapes within the cache time. */
  private viewStatuses(): Promise<ViewStatus[] | null> {
    const now = Date.now();
    if (!this.statuses || now - this.statuses.at > (this.opts.viewStatusCacheMs ?? 1000)) {
      const read = this.opts.viewStatuses().catch((err: unknown) => {
        this.opts.log.warn({ err }, 'metrics: could not read the views’ freshness');
        // The next scrape tries again rather than serving the failure from the cache.
        if (this.statuses?.value === read) this.statuses = null;
        return null;
      });
      this.statuses = { at: now, value: read };
    }
    return this.statuses.value;
  }

  readonly refreshObserver: RefreshObserver = {
    refreshed: (results, by) => {
      for (const r of results) this.refreshDuration.observe({ view: r.name, trigger: by }, r.durationMs / 1000);
    },
    failed: (err, by) => {
      this.refreshFailures.inc({ view: err.view, trigger: by });
    },
  };

  /** Observes every GraphQL request: duration by operation and outcome, errors by code. */
  plugin(): ApolloServerPlugin {
    const metrics = this;
    return {
      async requestDidStart() {
        const started = process.hrtime.bigint();
        return {
          async willSendResponse({ response, operation, operationName }) {
            const body = response.body;
            const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
            for (const e of errors ?? []) {
              const code = e.extensions?.code;
              metrics.errors.inc({ code: typeof code === 'string' && ERROR_CODE.test(code) ? code : 'UNKNOWN' });
            }
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            const operationLabel = operation ? metrics.operationLabel(operationName) : 'unknown';
            metrics.requestDuration.observe({ operation: operationLabel, outcome: errors?.length ? 'error' : 'ok' }, seconds);
          },
        };
      },
    };
  }

  private operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES || ['anonymous', 'unknown', 'other'].includes(name)) return 'other';
    this.operationNames.add(name);
    return name;
  }

  /** GET /metrics: Prometheus text; with a token configured, only for `Authorization: Bearer <token>`. */
  handler(): RequestHandler {
    return async (req, res) => {
      if (this.opts.token) {
        try {
          requireOpsToken(req.headersDistinct.authorization?.join(', '), this.opts.token);
        } catch (err) {
          const status = err instanceof UnauthenticatedError ? 401 : err instanceof ForbiddenError ? 403 : 500;
          if (status === 401) res.setHeader('www-authenticate', 'Bearer realm="metrics"');
          return void res.status(status).type('text/plain').send(status === 401 ? 'This needs Authorization: Bearer <METRICS_TOKEN>\n' : 'Wrong token\n');
        }
      }
      try {
        const text = await this.registry.metrics();
        res.setHeader('content-type', this.registry.contentType);
        res.setHeader('cache-control', 'no-store');
        res.end(text);
      } catch (err) {
        this.opts.log.error({ err }, 'metrics: scrape failed');
        res.status(500).type('text/plain').send('metrics unavailable\n');
      }
    };
  }
}
