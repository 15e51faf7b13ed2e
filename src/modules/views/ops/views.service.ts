import type { Config } from '../../../config';
import type { Sql } from '../../../database/sql';
import { ViewRefreshError } from '../../../errors';
import type { Logger } from '../../../logger';
import type { ViewVersions } from '../names';
import type { ChangeListener } from './notifications';
import { refreshViews, type RefreshedBy, type ViewRefreshResult } from './refresh';
import { ViewRegistryError, loadViewRegistry, type ViewRegistry } from './registry';
import { StalenessScheduler, readNotifyMode } from './staleness';
import { readViewStatuses, type ViewStatus } from './status';
import { RefreshCoalescer } from './refresh-coalescer';
import { readViewVersions } from './versions';

/** Told of every refresh run this service makes (metrics, the cost model's figures); must not throw. */
export interface RefreshObserver {
  refreshed(results: readonly ViewRefreshResult[], by: RefreshedBy): void;
  failed(err: ViewRefreshError, by: RefreshedBy): void;
}

/**
 * The views for the whole server: the registry (read from the catalog once, at start-up),
 * refresh runs, freshness, and the optional schedule.
 *
 * Runs from one server go one at a time (so waiting refreshers hold no pooled connection);
 * runs from several servers are kept apart by the advisory locks (see refresh.ts).
 */
export class ViewService {
  private registryLoad: Promise<ViewRegistry> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly observers = new Set<RefreshObserver>();
  private readonly coalesce = new RefreshCoalescer<ViewRefreshResult[]>();
  private staleness: StalenessScheduler | null = null;

  /**
   * `db`: the primary (refreshes write, and take advisory locks). `expected`: the view
   * versions this release's migrations build, checked at start(). `changes`: the server's
   * change listener, which the staleness bound (REFRESH_MAX_STALENESS_SECONDS) needs.
   */
  constructor(
    private readonly db: Sql,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly expected: ViewVersions,
    private readonly changes?: ChangeListener,
  ) {}

  /** The managed views as the catalog has them; fails, naming what is missing, if it lacks any. */
  registry(): Promise<ViewRegistry> {
    this.registryLoad ??= loadViewRegistry(this.db).catch((err) => {
      this.registryLoad = null;
      throw err;
    });
    return this.registryLoad;
  }

  async statuses(db: Sql = this.db): Promise<ViewStatus[]> {
    return readViewStatuses(db, await this.registry());
  }

  /** Refreshes the named views (all when null) and their dependants; see refreshViews. */
  async refresh(
    request: { views?: readonly string[] | null; concurrently?: boolean; onlyStale?: boolean; skip?: readonly string[] },
    by: RefreshedBy,
    log: Logger = this.log,
  ): Promise<ViewRefreshResult[]> {
    const registry = await this.registry();
    // Unknown names are rejected here, before the run waits its turn.
    const views = registry.withDependants(request.views);
    // A caller that would wait behind a run of the same views, not yet begun, joins it: that
    // run begins after the call, so it sees everything the caller could have wanted refreshed.
    // The trigger is part of the key, so that the log, the metrics and the payload say who asked.
    const key = JSON.stringify([views.map((v) => v.name).sort(), request.concurrently ?? true, request.onlyStale ?? false, [...(request.skip ?? [])].sort(), by]);
    return this.coalesce.run(key, (started) =>
      this.oneAtATime(() => {
        started();
        return refreshViews(this.db, registry, {
          ...request,
          by,
          log,
          statementTimeoutMs: this.config.refresh.statementTimeoutMs,
          lockTimeoutMs: this.config.refresh.lockTimeoutMs,
        }).then(
          (results) => {
            this.changes?.touch(views.map((v) => v.name));
            for (const o of this.observers) o.refreshed(results, by);
            return results;
          },
          (err: unknown) => {
            // Some views may have committed before the failure.
            this.changes?.touch(views.map((v) => v.name));
            if (err instanceof ViewRefreshError) for (const o of this.observers) o.failed(err, by);
            throw err;
          },
        );
      }),
    );
  }

  /** Adds an observer of refresh runs; returns the function that removes it. */
  observe(observer: RefreshObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /**
   * Refreshes the views that are stale, rechecking each under the locks: when several
   * servers run the schedule, whichever gets a view's lock first refreshes it and the
   * others, finding it fresh, skip it.
   */
  async refreshStale(by: RefreshedBy = 'schedule'): Promise<ViewRefreshResult[]> {
    const stale = (await this.statuses()).filter((s) => s.stale).map((s) => s.name);
    if (!stale.length) return [];
    return this.refresh({ views: stale, onlyStale: true }, by);
  }

  /**
   * Start-up: checks the views (failing fast), each at the version this release's migrations
   * build (or newer: a warning) and as that file built it, and starts the schedule when configured.
   */
  async start(): Promise<void> {
    const registry = await this.registry();
    const versions = await readViewVersions(this.db, this.expected);
    const drift = versions.flatMap((v) => (v.problem && !v.ahead ? [v.problem] : []));
    if (drift.length) throw new ViewRegistryError(drift);
    // During a rolling deploy the new release migrates first; older servers keep serving.
    for (const v of versions.filter((v) => v.ahead)) this.log.warn({ view: v.name }, v.problem!);
    const seconds = this.config.refresh.intervalSeconds;
    this.log.info({ views: registry.names, refreshIntervalSeconds: seconds }, 'materialized views checked');
    if (seconds && !this.timer) this.schedule(seconds * 1000);
    const bound = this.config.refresh.maxStalenessSeconds;
    if (bound && this.changes && !this.staleness) {
      const { debounceMs } = this.config.refresh;
      const notifyMode = await readNotifyMode(this.db);
      this.staleness = new StalenessScheduler(this, this.changes, { maxStalenessMs: bound * 1000, debounceMs, notifyMode, log: this.log });
      await this.staleness.start();
      this.log.info({ maxStalenessSeconds: bound, debounceMs, notifyMode }, 'staleness bound in force');
    }
  }

  /** Stops the schedule and the staleness bound; a run in progress finishes (or is rolled back when the pool closes). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.staleness?.stop();
    this.staleness = null;
  }

  private schedule(ms: number): void {
    // The next run is planned when this one ends, so runs never pile up behind a slow one.
    this.timer = setTimeout(() => {
      this.refreshStale('schedule')
        .catch((err) => {
          // refreshViews has logged its own failures, naming the view.
          if (!(err instanceof ViewRefreshError)) this.log.error({ err }, 'scheduled refresh failed');
        })
        .finally(() => {
          if (this.timer) this.schedule(ms);
        });
    }, ms);
    this.timer.unref();
  }

  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
