/**
 * Coalesces runs by key: a call that arrives while a run of the same key is queued but has
 * not begun joins that run and gets its result, instead of queueing another one. A call that
 * arrives once the run has begun starts (or joins) the next one, since the run under way may
 * not see what the caller wrote just before it called.
 */
export class RefreshCoalescer<T> {
  private readonly waiting = new Map<string, Promise<T>>();

  /** `start(started)` must call `started()` at the moment the run begins. */
  run(key: string, start: (started: () => void) => Promise<T>): Promise<T> {
    const queued = this.waiting.get(key);
    if (queued) return queued;
    const run = start(() => {
      if (this.waiting.get(key) === run) this.waiting.delete(key);
    });
    this.waiting.set(key, run);
    // A run that fails before it begins (rejected while queued) must not be joined later.
    run.catch(() => undefined).finally(() => {
      if (this.waiting.get(key) === run) this.waiting.delete(key);
    });
    return run;
  }
}
