import type { MikroORM } from '@mikro-orm/postgresql';

/** Connections of the request pool: checked out, open and free, requests waiting for one. */
export interface PoolStats {
  inUse: number;
  idle: number;
  waiting: number;
}

interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/**
 * The pool behind MikroORM (knex's tarn pool). The one place that knows where the pool is:
 * when reads move to a pg.Pool, return { inUse: totalCount - idleCount, idle: idleCount,
 * waiting: waitingCount } from it instead.
 */
export function poolStatsOf(orm: MikroORM): () => PoolStats {
  return () => {
    const pool = (orm.em.getKnex().client as { pool?: TarnPool }).pool;
    if (!pool) return { inUse: 0, idle: 0, waiting: 0 };
    return { inUse: pool.numUsed(), idle: pool.numFree(), waiting: pool.numPendingAcquires() };
  };
}
