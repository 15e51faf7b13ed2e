import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../../logger';
import { CHANGE_CHANNEL } from '../names';

/** A committed change heard on the channel: a write to a table, or a refresh of a view. */
export interface Change {
  kind: 'table' | 'view';
  /** A table as `schema.table` (as ViewRegistry lists them), a view by its name. */
  name: string;
  /** This listener's change counter after the change (grows by one per notification). */
  seq: number;
  /** When it was heard (Date.now()). */
  at: number;
}

export type ChangeEvent =
  | { type: 'change'; change: Change }
  /** Listening (again): what happened while not listening is unknown, so every version is new. */
  | { type: 'connected'; epoch: number }
  /** Not listening: versionOf answers null until 'connected'. */
  | { type: 'disconnected'; err?: Error };

/** What a listener knows, for ops and tests. */
export interface DataVersions {
  connected: boolean;
  /** Grows by one on every (re)connection. */
  epoch: number;
  /** Per relation, the `seq` of its last change heard (tables as `schema.table`, views by name). */
  tables: Record<string, number>;
  views: Record<string, number>;
}

export interface ChangeListenerOptions {
  /** The primary: NOTIFY is delivered by the server where the writing transaction committed. */
  url: string;
  log: Logger;
  channel?: string;
  applicationName?: string;
  /** Delay before reconnecting: doubles per failed attempt from initialMs to maxMs, with jitter. */
  backoff?: { initialMs: number; maxMs: number };
}

/**
 * One dedicated connection per server (not a pooled one: LISTEN belongs to a session) that
 * LISTENs on the change channel and keeps, per table and per view, a data version: a
 * counter that moves whenever a committed change to it is heard. Writes are announced by the
 * change trigger, refreshes by the refresh transaction, both at commit (docs/freshness.md).
 *
 * While the connection is down nothing can be known, so versionOf answers null (trust no
 * cached knowledge); it reconnects with backoff, and a new connection starts a new epoch,
 * so no version from before the gap is ever answered again.
 *
 * For a response cache: key an answer on versionOf(the relations it read), taken before the
 * read. A change committed during the read moves the version, so the entry is never hit
 * again; an entry is never keyed on a version later than its data. Versions are this
 * process's own: never compare them across instances.
 */
export class ChangeListener {
  private client: pg.Client | null = null;
  private live = false;
  private stopped = true;
  private epoch = 0;
  private seq = 0;
  private attempt = 0;
  private retry: NodeJS.Timeout | null = null;
  private readonly tables = new Map<string, number>();
  private readonly views = new Map<string, number>();
  private readonly subscribers = new Set<(e: ChangeEvent) => void>();
  private readonly instance = randomBytes(4).toString('hex');
  private readonly channel: string;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(private readonly opts: ChangeListenerOptions) {
    this.channel = opts.channel ?? CHANGE_CHANNEL;
    this.backoff = opts.backoff ?? { initialMs: 100, maxMs: 5000 };
  }

  /** Starts listening (in the background; see ready()). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  /** Stops listening and closes the connection. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const client = this.client;
    this.drop();
    await client?.end().catch(() => {});
  }

  get connected(): boolean {
    return this.live;
  }

  /** Resolves true once listening, false if not within timeoutMs. */
  ready(timeoutMs = 10_000): Promise<boolean> {
    if (this.live) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), timeoutMs);
      const unsubscribe = this.subscribe((e) => e.type === 'connected' && done(true));
      const done = (ok: boolean) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(ok);
      };
    });
  }

  /** Calls `fn` on every change, connection and disconnection; returns the unsubscribe. */
  subscribe(fn: (e: ChangeEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /**
   * One version for a set of relations (tables as `schema.table`, views by name): a string
   * that changes whenever any of them changes, or the connection was lost since. Null while
   * not listening: nothing may be assumed unchanged.
   */
  versionOf(names: Iterable<string>): string | null {
    if (!this.live) return null;
    let max = 0;
    for (const n of names) max = Math.max(max, this.views.get(n) ?? this.tables.get(n) ?? 0);
    return `${this.instance}.${this.epoch}.${max}`;
  }

  /**
   * This process changed these relations (tables as `schema.table`, views by name) and has
   * seen its change commit: their versions move now, not when the notification arrives, so
   * that nothing keyed on the old version is served after the writer's own response. The
   * notification still arrives and moves them again. Subscribers are not told (the
   * notification will tell them).
   */
  touch(names: Iterable<string>): void {
    for (const n of names) {
      const seq = ++this.seq;
      (this.views.has(n) || !n.includes('.') ? this.views : this.tables).set(n, seq);
    }
  }

  dataVersions(): DataVersions {
    return {
      connected: this.live,
      epoch: this.epoch,
      tables: Object.fromEntries(this.tables),
      views: Object.fromEntries(this.views),
    };
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.url,
      application_name: this.opts.applicationName ?? 'tally-listen',
      // A peer that vanished without a FIN is noticed by the kernel's keepalive probes.
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (client === this.client) this.heard(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`listen ${client.escapeIdentifier(this.channel)}`);
    } catch (err) {
      this.lost(client, err as Error);
      return;
    }
    if (client !== this.client) {
      // Closed (or replaced) while connecting.
      await client.end().catch(() => {});
      return;
    }
    this.live = true;
    this.attempt = 0;
    this.epoch++;
    this.opts.log.info({ channel: this.channel, epoch: this.epoch }, 'listening for data changes');
    this.emit({ type: 'connected', epoch: this.epoch });
  }

  private heard(payload: string): void {
    const kind = payload.startsWith('t:') ? 'table' : payload.startsWith('v:') ? 'view' : null;
    if (!kind) return;
    const name = payload.slice(2);
    const seq = ++this.seq;
    (kind === 'table' ? this.tables : this.views).set(name, seq);
    this.emit({ type: 'change', change: { kind, name, seq, at: Date.now() } });
  }

  /** The connection failed or ended: forget it, say so, and try again unless closing. */
  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.client) return;
    const wasLive = this.live;
    this.drop(err);
    client.end().catch(() => {});
    if (this.stopped) return;
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.attempt++) * (0.5 + Math.random() / 2);
    const line = { err, retryInMs: Math.round(delay) };
    if (wasLive) this.opts.log.warn(line, 'change listener disconnected; reconnecting');
    else this.opts.log.debug(line, 'change listener could not connect; retrying');
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) void this.connect();
    }, delay);
    this.retry.unref();
  }

  private drop(err?: Error): void {
    const wasLive = this.live;
    this.client = null;
    this.live = false;
    if (wasLive) this.emit({ type: 'disconnected', err });
  }

  private emit(e: ChangeEvent): void {
    for (const fn of this.subscribers) {
      try {
        fn(e);
      } catch (err) {
        this.opts.log.error({ err }, 'a change subscriber failed');
      }
    }
  }
}
