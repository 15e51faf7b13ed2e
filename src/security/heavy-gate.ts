import { HeaderMap } from '@apollo/server';
import { PublicError } from '../errors';

export interface HeavyGateOptions {
  /** Cost from which a request counts as heavy. */
  heavyCost: number;
  /** Heavy requests this instance runs at a time. */
  concurrency: number;
  /** Heavy requests that may wait for a slot; more are refused at once. */
  queue: number;
  /** Longest wait for a slot (ms); past it the request is refused. */
  maxWaitMs: number;
  /** Cost points of heavy requests this instance admits per second, all clients together. */
  pointsPerSecond: number;
}

/**
 * Heavy requests (by their cost, known before they run) take turns: at most `concurrency`
 * run at once on this instance, a few wait, the rest are answered 503 with Retry-After at
 * once; and all of them together get at most `pointsPerSecond` of cost per second. Per-client budgets bound what each client spends; this bounds what all of them
 * together can take from the light requests (a page, an item) that honest clients mostly
 * send, whatever the number of addresses an attacker has.
 */
export class HeavyGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** A token bucket of heavy cost: refills at pointsPerSecond, holds at most one second's worth. */
  private tokens: number;
  private refilledAt = performance.now();

  constructor(readonly opts: HeavyGateOptions) {
    this.tokens = opts.pointsPerSecond;
  }

  /** Resolves with a release function once the request may run; throws when it may not. */
  async enter(cost: number): Promise<() => void> {
    const t = performance.now();
    this.tokens = Math.min(this.opts.pointsPerSecond, this.tokens + ((t - this.refilledAt) / 1000) * this.opts.pointsPerSecond);
    this.refilledAt = t;
    // A request dearer than one second's worth may run when the bucket is full.
    if (this.tokens < Math.min(cost, this.opts.pointsPerSecond)) throw busy();
    if (this.running < this.opts.concurrency) {
      this.tokens -= cost;
      this.running++;
      return this.releaser();
    }
    // Refused requests spend nothing: a flood of them must not drain what honest ones need.
    if (this.waiting.length >= this.opts.queue) throw busy();
    this.tokens -= cost;
    await new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(turn);
        if (i >= 0) this.waiting.splice(i, 1);
        // It never ran: its cost goes back.
        this.tokens = Math.min(this.opts.pointsPerSecond, this.tokens + cost);
        reject(busy());
      }, this.opts.maxWaitMs);
      this.waiting.push(turn);
    });
    // The slot was handed over by the releaser: `running` already counts it.
    return this.releaser();
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
  }
}

function busy(): PublicError {
  return new PublicError('SERVICE_UNAVAILABLE', 'Too many costly requests are running; retry shortly, or ask for less', {
    http: { status: 503, headers: new HeaderMap([['retry-after', '1']]) },
    retryAfterSeconds: 1,
  });
}
