import type pg from 'pg';
import { replicaReadFailure } from '../errors';
import type { Logger } from '../logger';
import type { Runner } from './sql';

// Where a request's reads go. tally reads through plain pg pools (MikroORM runs only the
// migrations), so MikroORM's `replicas` option never sees a request: the routing is here.
//
// Each request takes ONE read target when its context is made (a standby in rotation, the
// least busy, ties in turn; the primary when none is) and all its reads go there, so its
// statements see one state. A mutation switches its request to the primary before anything
// runs (read-routing.ts), so its payload shows its own write. A read a standby cancels
// (a conflict with recovery) or cannot serve (down) is sent once more, to the primary, and
// the request stays there: its data can only get newer, never older.

/** A place reads can go: the primary's read pool or one standby's pool. */
export interface ReadTarget {
  /** 'primary', or 'replica <n>' (n from 1, in DATABASE_REPLICA_URLS order). */
  readonly name: string;
  readonly kind: 'primary' | 'replica';
  readonly pool: pg.Pool;
  /** Statements this process sent here (tests and metrics read it). */
  statements: number;
}

export type ReplicaState = 'unknown' | 'in' | 'lagging' | 'down';

export interface Replica extends ReadTarget {
  readonly kind: 'replica';
  /** host:port/database, without credentials, for logs. */
  readonly where: string;
  /** Only replicas 'in' rotation are picked; 'unknown' until the first lag check. */
  state: ReplicaState;
  /** Seconds of the primary's WAL it had not replayed at the last check; null: unknown. */
  lagSeconds: number | null;
  replayPaused: boolean;
  /** Reads it failed that were sent to the primary, by cause. */
  retried: { conflict: number; busy: number; unavailable: number };
  /** Its own small pool for the lag check, so a flood of reads cannot delay it. */
  readonly monitor: pg.Pool;
}

export interface RouterOptions {
  maxLagSeconds: number;
  lagCheckMs: number;
  log: Logger;
}

/** One primary WAL position and when it was read: the ruler replicas are measured with. */
interface WalSample {
  at: number;
  lsn: bigint;
}

export class ReadRouter {
  private turn = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  /** The primary's WAL positions of the recent checks, oldest first. */
  private samples: WalSample[] = [];
  private primaryAnswered = true;

  /**
   * `primary`: the primary's read pool (the fallback, and mutations' reads). `primaryMonitor`:
   * a pool on the primary for the lag check's one statement.
   */
  constructor(
    readonly primary: ReadTarget,
    readonly replicas: readonly Replica[],
    private readonly primaryMonitor: pg.Pool | null,
    private readonly opts: RouterOptions,
  ) {}

  /** A standby in rotation, the least busy (ties in turn); the primary when none is. */
  pick(): ReadTarget {
    const usable = this.replicas.filter((r) => r.state === 'in');
    if (!usable.length) return this.primary;
    this.turn = (this.turn + 1) % usable.length;
    let best = usable[this.turn];
    for (let i = 1; i < usable.length; i++) {
      const r = usable[(this.turn + i) % usable.length];
      if (busy(r.pool) < busy(best.pool)) best = r;
    }
    return best;
  }

  /** A request's reads: one target, chosen now. */
  session(): ReadSession {
    return new ReadSession(this, this.pick());
  }

  /** Lag checks from now on, every lagCheckMs; the first at once. No-op without replicas. */
  start(): void {
    if (!this.replicas.length || this.timer) return;
    const tick = () => {
      void this.checkNow().finally(() => {
        if (this.timer) this.timer = setTimeout(tick, this.opts.lagCheckMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Measures every replica's lag now (one check at a time; a caller during one waits for it). */
  checkNow(): Promise<void> {
    this.checking ??= this.check().finally(() => (this.checking = null));
    return this.checking;
  }

  /** A read failed on `replica` and goes to the primary instead. */
  noteFailure(replica: Replica, cause: 'conflict' | 'busy' | 'unavailable', err: unknown): void {
    replica.retried[cause]++;
    this.opts.log.info({ replica: replica.name, cause, err }, 'a replica read failed; retried on the primary');
    // A conflict is one statement meeting one WAL record, a full pool a busy moment (an
    // unreachable host also ends so: the lag check, with its short timeout, finds that); a
    // standby that refuses or drops connections fails every read until a check finds it back.
    if (cause === 'unavailable') this.setState(replica, 'down', { err });
  }

  private async check(): Promise<void> {
    // The primary's position first: a standby that has replayed up to it has everything
    // committed before this check began.
    const maxLagMs = this.opts.maxLagSeconds * 1000;
    const timeoutMs = Math.max(1000, 2 * this.opts.lagCheckMs);
    let primaryOk = false;
    try {
      const { rows } = await withTimeout(
        this.primaryMonitor!.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn'),
        timeoutMs,
      );
      const now = Date.now();
      this.samples.push({ at: now, lsn: parseLsn(rows[0].lsn) });
      // Kept long enough to tell "more than maxLag behind" from "within it", and bounded.
      const keepFrom = now - maxLagMs - 2 * this.opts.lagCheckMs - 1000;
      while (this.samples.length > 2 && (this.samples[0].at < keepFrom || this.samples.length > 10_000)) this.samples.shift();
      primaryOk = true;
      this.primaryAnswered = true;
    } catch (err) {
      // Lag cannot be measured without the primary: each replica keeps its last state
      // (still checked for being up below). Reads then go where they went. Logged once per outage.
      if (this.primaryAnswered) this.opts.log.warn({ err }, 'replica lag check: the primary did not answer');
      this.primaryAnswered = false;
    }
    await Promise.all(
      this.replicas.map(async (r) => {
        try {
          const { rows } = await withTimeout(
            r.monitor.query<{ standby: boolean; replay: string | null; paused: boolean }>(
              `select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as replay,
                      case when pg_is_in_recovery() then pg_is_wal_replay_paused() else false end as paused`,
            ),
            timeoutMs,
          );
          const row = rows[0];
          if (!row.standby || row.replay === null) {
            // Promoted, or not a standby at all: its data may have left the primary's.
            this.setState(r, 'down', { reason: 'not a streaming standby' });
            return;
          }
          r.replayPaused = row.paused;
          if (!primaryOk) {
            if (r.state === 'down' || r.state === 'unknown') this.setState(r, r.lagSeconds !== null && r.lagSeconds * 1000 <= maxLagMs ? 'in' : 'lagging', {});
            return;
          }
          const lagMs = this.lagMs(parseLsn(row.replay));
          r.lagSeconds = lagMs / 1000;
          this.setState(r, lagMs <= maxLagMs ? 'in' : 'lagging', {});
        } catch (err) {
          this.setState(r, 'down', { err });
        }
      }),
    );
  }

  /**
   * How long the replica has lacked WAL the primary had: since the oldest sample past its
   * replay position (0 when it has replayed the newest one). A paused or slow replay
   * grows it while the primary writes; an idle primary writes nothing to lag behind, so a
   * standby that replayed everything is 0 however old its last replayed transaction is
   * (which is why pg_last_xact_replay_timestamp() alone would not do). Errs low by at most
   * one check interval.
   */
  private lagMs(replay: bigint): number {
    const behind = this.samples.find((s) => s.lsn > replay);
    return behind ? Date.now() - behind.at : 0;
  }

  private setState(r: Replica, state: ReplicaState, why: { err?: unknown; reason?: string }): void {
    if (r.state === state) return;
    const was = r.state;
    r.state = state;
    if (state !== 'in') r.lagSeconds = state === 'down' ? null : r.lagSeconds;
    const fields = { replica: r.name, where: r.where, was, lagSeconds: r.lagSeconds, replayPaused: r.replayPaused, ...why };
    if (state === 'in') this.opts.log.info(fields, 'replica in rotation');
    else this.opts.log.warn(fields, `replica out of rotation: ${state}`);
  }
}

/**
 * One request's reads: a Runner for its Sql. Reads go to the target chosen when the request
 * began; a read a replica cancels or cannot serve is sent once more, to the primary, where
 * the rest of the request then reads. (The primary's own failures are not retried: the
 * client is told, as without replicas.)
 */
export class ReadSession implements Runner {
  constructor(
    private readonly router: ReadRouter,
    private current: ReadTarget,
  ) {}

  /** Where this request reads now (the response cache's seam: its key names the state read). */
  get target(): ReadTarget {
    return this.current;
  }

  /** From now on this request reads from the primary (a mutation, to show its own write). */
  readFromPrimary(): void {
    this.current = this.router.primary;
  }

  async query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const target = this.current;
    target.statements++;
    try {
      return await target.pool.query<R>(config);
    } catch (err) {
      const cause = target.kind === 'replica' ? replicaReadFailure(err) : null;
      if (!cause) throw err;
      this.router.noteFailure(target as Replica, cause, err);
      this.current = this.router.primary;
      this.current.statements++;
      return this.current.pool.query<R>(config);
    }
  }
}

/** Connections in use plus callers waiting for one. */
function busy(pool: pg.Pool): number {
  return pool.totalCount - pool.idleCount + pool.waitingCount;
}

/** A pg_lsn ('16/B374D848') as a number of bytes. */
export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** host:port/database of a URL, never its credentials. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'an unparsable URL';
  }
}
