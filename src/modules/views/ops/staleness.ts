import { sql, type Sql } from '../../../database/sql';
import { ViewRefreshError } from '../../../errors';
import type { Logger } from '../../../logger';
import type { ChangeEvent, ChangeListener } from './notifications';
import type { RefreshedBy, ViewRefreshResult } from './refresh';
import type { ViewRegistry } from './registry';
import type { ViewStatus } from './status';

/** What the scheduler needs of ViewService (an interface, so the two files do not import each other). */
export interface Refresher {
  registry(): Promise<ViewRegistry>;
  statuses(): Promise<ViewStatus[]>;
  refresh(
    request: { views?: readonly string[] | null; onlyStale?: boolean; skip?: readonly string[] },
    by: RefreshedBy,
  ): Promise<ViewRefreshResult[]>;
}

export interface StalenessOptions {
  /** REFRESH_MAX_STALENESS_SECONDS in ms. */
  maxStalenessMs: number;
  /** REFRESH_DEBOUNCE_MS. */
  debounceMs: number;
  log: Logger;
  /** Backoff of a view whose refresh failed: doubles from initialMs to maxMs. */
  retry?: { initialMs: number; maxMs: number };
  /** How often the database's own view of staleness is read while listening (a safety net). */
  reconcileMs?: number;
  /**
   * The database's tally.notify_changes: 'all' (every writing transaction is announced) or
   * 'first' (only the first change per backend and refresh cycle: no debounce is possible,
   * so pending views wait for the deadline, and the database is read after every run and
   * twice per bound to find writes that were not announced).
   */
  notifyMode?: NotifyMode;
}

export type NotifyMode = 'all' | 'first';

/** The tally.notify_changes setting writers' sessions get (ALTER DATABASE … SET). */
export async function readNotifyMode(db: Sql): Promise<NotifyMode> {
  const row = await db.one<{ mode: string | null }>(sql.query`select current_setting('tally.notify_changes', true) as mode`);
  return row?.mode === 'first' ? 'first' : 'all';
}

interface Pending {
  /** When the first change not yet refreshed was heard (or, from the database, made). */
  first: number;
  /** When the last one was heard. */
  last: number;
}

/**
 * Keeps every view within the staleness bound (docs/freshness.md). A change heard on the
 * channel marks the views that read the table, and the views that read those, pending; a
 * pending view is refreshed once writes pause for the debounce, and never later than the
 * bound after the first change (less a margin for the refresh to start), however steady the
 * trickle. Runs go through ViewService.refresh with onlyStale, so under the advisory locks a
 * view another instance has just refreshed is found fresh and skipped: several instances
 * refresh each change once.
 *
 * A failed view is left out of the next attempts of the others (they go on at once) and
 * retried alone with backoff. While the listener is down (and at start and on reconnect) the
 * scheduler reads staleness from the database instead: changes it could not hear are found
 * there, with the time they were made.
 */
export class StalenessScheduler {
  private readonly pending = new Map<string, Pending>();
  private readonly failing = new Map<string, { count: number; retryAt: number }>();
  private registry: ViewRegistry | null = null;
  private timer: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;
  private readonly margin: number;
  private readonly retry: { initialMs: number; maxMs: number };
  private readonly reconcileMs: number;
  private readonly first: boolean;

  constructor(
    private readonly views: Refresher,
    private readonly changes: ChangeListener,
    private readonly opts: StalenessOptions,
  ) {
    // Starting a little before the bound leaves room for the notification's and the queue's delays.
    this.margin = Math.min(500, opts.maxStalenessMs * 0.1);
    this.retry = opts.retry ?? { initialMs: 1000, maxMs: Math.max(30_000, opts.maxStalenessMs) };
    this.first = opts.notifyMode === 'first';
    this.reconcileMs = opts.reconcileMs ?? (this.first ? Math.max(500, opts.maxStalenessMs / 2) : Math.max(30_000, opts.maxStalenessMs));
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.registry = await this.views.registry();
    this.unsubscribe = this.changes.subscribe((e) => this.onEvent(e));
    this.reconcileLoop();
  }

  /** Stops planning runs; one in progress finishes. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearTimeout(this.poll);
    this.timer = this.poll = null;
  }

  /** Views waiting for a refresh, and failing ones (for tests and ops). */
  state(): { pending: string[]; failing: Record<string, { count: number; retryAt: number }> } {
    return { pending: [...this.pending.keys()], failing: Object.fromEntries(this.failing) };
  }

  private onEvent(e: ChangeEvent): void {
    if (this.stopped) return;
    if (e.type === 'change' && e.change.kind === 'table') {
      const readers = this.registry!.views.filter((v) => v.tables.includes(e.change.name)).map((v) => v.name);
      if (readers.length) this.mark(this.registry!.withDependants(readers).map((v) => v.name), e.change.at, e.change.at);
    } else if (e.type !== 'change') {
      // Connected: what happened while deaf is in the database, and views that failed while
      // it was away (most likely for that reason) are tried at once. Disconnected: poll it.
      if (e.type === 'connected') for (const f of this.failing.values()) f.retryAt = 0;
      this.reconcileLoop();
    }
  }

  private mark(names: string[], first: number, last: number): void {
    for (const name of names) {
      const p = this.pending.get(name);
      if (p) {
        p.first = Math.min(p.first, first);
        p.last = Math.max(p.last, last);
      } else this.pending.set(name, { first, last });
    }
    this.plan();
  }

  private dueAt(name: string, p: Pending): number {
    const deadline = p.first + this.opts.maxStalenessMs - this.margin;
    const due = this.first ? deadline : Math.min(p.last + this.opts.debounceMs, deadline);
    return Math.max(due, this.failing.get(name)?.retryAt ?? 0);
  }

  private plan(): void {
    if (this.stopped || this.running) return;
    let next = Infinity;
    for (const [name, p] of this.pending) next = Math.min(next, this.dueAt(name, p));
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (next === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.run().finally(() => {
        this.running = null;
        this.plan();
      });
    }, Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const now = Date.now();
    const due = [...this.pending].filter(([name, p]) => this.dueAt(name, p) <= now + 5);
    // Changes heard from now on mark the views pending again: the refresh may not see them.
    for (const [name] of due) this.pending.delete(name);
    const skip = [...this.failing].filter(([, f]) => f.retryAt > now).map(([name]) => name);
    let todo = due.map(([name]) => name);
    while (todo.length && !this.stopped) {
      try {
        const done = await this.views.refresh({ views: todo, onlyStale: true, skip }, 'freshness');
        for (const name of [...todo, ...done.map((r) => r.name)]) this.failing.delete(name);
        // A write that continued a run during the refresh was not announced: find it now.
        if (this.first) await this.reconcile();
        return;
      } catch (err) {
        const failed = err instanceof ViewRefreshError ? err.view : null;
        // Anything else (the database unavailable, say): everything due tries again later.
        const retried = failed && !skip.includes(failed) ? [failed] : todo;
        for (const name of retried) {
          const f = this.failing.get(name) ?? { count: 0, retryAt: 0 };
          f.count++;
          f.retryAt = Date.now() + Math.min(this.retry.maxMs, this.retry.initialMs * 2 ** (f.count - 1));
          this.failing.set(name, f);
          const p = due.find(([n]) => n === name)?.[1] ?? { first: now, last: now };
          this.mark([name], p.first, p.last);
        }
        if (!failed) {
          this.opts.log.warn({ err, views: todo }, 'staleness-bound refresh failed; retrying with backoff');
          return;
        }
        // The others go on without it.
        skip.push(failed);
        todo = todo.filter((n) => n !== failed);
      }
    }
  }

  /** Reads staleness from the database now, then again on a period (short while not listening). */
  private reconcileLoop(): void {
    if (this.poll) clearTimeout(this.poll);
    this.poll = null;
    if (this.stopped) return;
    void this.reconcile().finally(() => {
      if (this.stopped) return;
      const every = this.changes.connected ? this.reconcileMs : Math.max(200, this.opts.maxStalenessMs / 4);
      this.poll = setTimeout(() => this.reconcileLoop(), every);
      this.poll.unref();
    });
  }

  private async reconcile(): Promise<void> {
    let statuses: ViewStatus[];
    try {
      statuses = await this.views.statuses();
    } catch (err) {
      this.opts.log.debug({ err }, 'could not read view staleness');
      return;
    }
    const now = Date.now();
    const stale = new Set(statuses.filter((s) => s.stale).map((s) => s.name));
    for (const s of statuses) {
      // A view that reads a stale view is refreshed with it (and not before: it would stay stale).
      if (!s.stale || this.pending.has(s.name) || s.dependsOn.some((d) => stale.has(d))) continue;
      const since = Math.min(now, s.staleSince?.getTime() ?? now);
      this.mark([s.name], since, since);
    }
  }
}
