import type pg from 'pg';

/** Connections of a pool: checked out, open and free, requests waiting for one. */
export interface PoolStats {
  inUse: number;
  idle: number;
  waiting: number;
}

/** Each named pool's connections (reads, primary, every standby's), read when asked (a metrics scrape). */
export function poolStatsOf(listPools: () => { name: string; pool: pg.Pool }[]): () => Record<string, PoolStats> {
  return () =>
    Object.fromEntries(
      listPools().map(({ name, pool }) => [
        name,
        { inUse: pool.totalCount - pool.idleCount, idle: pool.idleCount, waiting: pool.waitingCount },
      ]),
    );
}
