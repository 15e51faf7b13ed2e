import type pg from 'pg';

/** Connections of a pool: checked out, open and free, requests waiting for one. */
export interface PoolStats {
  inUse: number;
  idle: number;
  waiting: number;
}

/** Each named pool's connections, read when asked (a metrics scrape). */
export function poolStatsOf(pools: Record<string, pg.Pool>): () => Record<string, PoolStats> {
  return () =>
    Object.fromEntries(
      Object.entries(pools).map(([name, pool]) => [
        name,
        { inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount },
      ]),
    );
}
