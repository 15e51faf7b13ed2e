import { HeaderMap } from '@apollo/server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyaddr from 'proxy-addr';
import type pg from 'pg';
import { createHash } from 'node:crypto';
import { Kind, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config';
import { PublicError } from '../errors';
import { sendError } from '../http/hygiene';
import type { Logger } from '../logger';

/** The table the shared buckets live in (migrations/Migration20261125200000_rate_limit.ts). */
export const RATE_LIMIT_TABLE = 'rate_limit';

type Budget = NonNullable<Config['rateLimit']>;

/**
 * One budget (points per window per client), decided locally and shared by every instance.
 *
 * Each request is decided by an in-memory bucket (rate-limiter-flexible's RateLimiterMemory):
 * no database round trip on the request path. Every `syncMs`, the points each client spent
 * here since the last sync are added to its bucket in PostgreSQL (RateLimiterPostgres: one
 * upsert per client that was active, none when idle), and the local bucket is set to the
 * total all instances spent in that window. So one instance enforces the budget at once, and
 * N instances together let a client overspend by at most what it can spend on the other
 * instances in one sync interval. When the database does not answer, the local buckets go on
 * deciding alone.
 */
class SharedBudget {
  private readonly local: RateLimiterMemory;
  private readonly shared: RateLimiterPostgres;
  private pending = new Map<string, number>();

  constructor(
    pool: pg.Pool,
    private readonly name: string,
    readonly points: number,
    readonly windowSeconds: number,
  ) {
    this.local = new RateLimiterMemory({ keyPrefix: name, points, duration: windowSeconds });
    // The table is created by a migration (tableCreated: true): the library never runs DDL.
    this.shared = new RateLimiterPostgres({
      storeClient: pool,
      storeType: 'pool',
      tableName: RATE_LIMIT_TABLE,
      tableCreated: true,
      keyPrefix: name,
      points,
      duration: windowSeconds,
      clearExpiredByTimeout: true,
    });
  }

  /** Milliseconds until `key` may spend again; 0 when it has budget left. */
  async exhausted(key: string): Promise<number> {
    const res = await this.local.get(key);
    return res && res.consumedPoints > this.points ? Math.max(res.msBeforeNext, 1) : 0;
  }

  /** Spends `cost` of `key`'s budget; resolves with 0, or the ms to wait when it is spent. */
  async spend(key: string, cost: number): Promise<number> {
    try {
      await this.local.consume(key, cost);
      this.pending.set(key, (this.pending.get(key) ?? 0) + cost);
      return 0;
    } catch (res) {
      if (res instanceof RateLimiterRes) return Math.max(res.msBeforeNext, 1);
      throw res;
    }
  }

  /** Adds what was spent here to the shared buckets and takes back what all instances spent. */
  async sync(log: Logger): Promise<void> {
    const batch = [...this.pending];
    this.pending = new Map();
    for (const [i, [key, spent]] of batch.entries()) {
      let res: RateLimiterRes;
      try {
        res = await this.shared.consume(key, spent);
      } catch (rejected) {
        if (!(rejected instanceof RateLimiterRes)) {
          log.warn({ err: rejected, budget: this.name }, 'rate limit store unavailable; deciding locally');
          // Put back this key and every one not synced yet, so they are added at the next sync.
          for (const [k, n] of batch.slice(i)) this.pending.set(k, (this.pending.get(k) ?? 0) + n);
          return;
        }
        res = rejected;
      }
      const since = this.pending.get(key) ?? 0;
      const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
      await this.local.set(key, res.consumedPoints + since, seconds);
    }
  }
}

export class RateLimiter {
  readonly reads: SharedBudget;
  readonly writes: SharedBudget;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;

  constructor(
    pool: pg.Pool,
    private readonly budget: Budget,
    private readonly log: Logger,
  ) {
    this.reads = new SharedBudget(pool, 'reads', budget.points, budget.windowSeconds);
    this.writes = new SharedBudget(pool, 'writes', budget.writes, budget.writesWindowSeconds);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sync(), this.budget.syncMs);
    this.timer.unref();
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.sync();
  }

  /** One sync at a time; a slow store never piles them up. */
  sync(): Promise<void> {
    this.syncing ??= Promise.all([this.reads.sync(this.log), this.writes.sync(this.log)])
      .then(() => undefined)
      .catch((err) => this.log.warn({ err }, 'rate limit sync failed'))
      .finally(() => (this.syncing = null));
    return this.syncing;
  }

  /**
   * Charges every request its base points before its body is read (so refused and malformed
   * requests are paid for too); throws RATE_LIMITED when `client` has spent its read budget.
   */
  async gate(client: string): Promise<void> {
    const exhausted = await this.reads.exhausted(client);
    const ms = exhausted || (await this.reads.spend(client, this.budget.requestPoints));
    if (ms) throw rateLimited(ms, 'reads');
  }

  /** Charges an accepted operation: its cost, and one write per addReview in it. */
  async charge(client: string, cost: number, operation: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>): Promise<void> {
    const writes = operation.operation === 'mutation' ? countRootFields(operation.selectionSet, 'addReview', fragments, new Set()) : 0;
    if (writes) {
      const ms = await this.writes.spend(client, writes);
      if (ms) throw rateLimited(ms, 'writes');
    }
    const ms = await this.reads.spend(client, cost);
    if (ms) throw rateLimited(ms, 'reads');
  }
}

/**
 * Express middleware before the body is read: charges the request's base points, and
 * answers 429 at once to a client whose budget is spent. `exempt` requests (the ops token)
 * pass untouched.
 */
/**
 * Every request pays its base points before its body is read; a spent budget is answered 429
 * with Retry-After here. True when the request may go on.
 */
export async function passRateLimitGate(limiter: RateLimiter, client: string, res: ServerResponse): Promise<boolean> {
  try {
    await limiter.gate(client);
    return true;
  } catch (err) {
    const e = err as PublicError;
    const seconds = e.extensions?.retryAfterSeconds as number;
    res.setHeader('retry-after', String(seconds));
    sendError(res, 429, 'RATE_LIMITED', e.message, { retryAfterSeconds: seconds, budget: e.extensions?.budget });
    return false;
  }
}

export function rateLimited(ms: number, budget: 'reads' | 'writes'): PublicError {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return new PublicError('RATE_LIMITED', `Too many requests: this client's ${budget} budget is spent; retry after ${seconds} s`, {
    retryAfterSeconds: seconds,
    budget,
    http: { status: 429, headers: new HeaderMap([['retry-after', String(seconds)]]) },
  });
}

/**
 * Who a request is from, for its budget: the value of RATE_LIMIT_KEY_HEADER when configured
 * and sent (hashed: the store never holds a key), else the client's IP address. TRUST_PROXY
 * (a comma-separated list of addresses, subnets or proxy-addr's names such as `loopback`, as
 * express's `trust proxy`) decides whether X-Forwarded-For counts.
 */
export function clientKeyOf(keyHeader: string | undefined, trustProxy: string | undefined): (req: IncomingMessage) => string {
  const header = keyHeader?.toLowerCase();
  const trust = proxyaddr.compile(trustProxy ? trustProxy.split(',').map((s) => s.trim()) : []);
  return (req) => {
    const key = header ? req.headers[header] : undefined;
    if (typeof key === 'string' && key) return `key:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`;
    return `ip:${proxyaddr(req, trust) ?? 'unknown'}`;
  };
}

function countRootFields(set: SelectionSetNode, name: string, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>): number {
  let n = 0;
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) n += s.name.value === name ? 1 : 0;
    else if (s.kind === Kind.INLINE_FRAGMENT) n += countRootFields(s.selectionSet, name, fragments, seen);
    else if (!seen.has(s.name.value) && fragments[s.name.value]) {
      seen.add(s.name.value);
      n += countRootFields(fragments[s.name.value].selectionSet, name, fragments, seen);
      seen.delete(s.name.value);
    }
  }
  return n;
}
