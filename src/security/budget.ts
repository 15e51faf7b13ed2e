import type { ApolloServerPlugin } from '@apollo/server';
import type { Context } from '../context';
import { PublicError } from '../errors';

export interface ExecutionBudgetOptions {
  /** Execution deadline of one request (ms), from the moment it starts executing. */
  timeoutMs: number;
  /** Fields (objects and leaves) one response may hold. */
  maxFields: number;
  /** Requests the bounds do not apply to (ops: a refresh has its own lock and statement timeouts). */
  exempt?: (ctx: Context) => boolean;
}

/**
 * Bounds while a request runs: a deadline and a cap on the fields it resolves. The cost
 * model should keep every accepted query well inside both; these are what holds when its
 * figures are stale or wrong. Past either, every further field fails at once (so the rest
 * of the walk is cut short) and the response is one coded error, without partial data.
 */
export function executionBudgetPlugin(opts: ExecutionBudgetOptions): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      let stop: PublicError | null = null;
      return {
        async executionDidStart({ contextValue }) {
          if (opts.exempt?.(contextValue)) return;
          const deadline = performance.now() + opts.timeoutMs;
          const timedOut = () =>
            new PublicError('REQUEST_TIMEOUT', `The request ran past its ${opts.timeoutMs} ms deadline`, {
              limit: opts.timeoutMs,
              http: { status: 503 },
            });
          // Fires while the request waits (on the database); a long synchronous walk is
          // caught by the clock check below, every 64 fields.
          // Past a bound, the request's statements not yet sent are not sent either.
          const halt = (err: PublicError) => {
            stop ??= err;
            contextValue.cancel.abort(stop);
            return stop;
          };
          const timer = setTimeout(() => halt(timedOut()), opts.timeoutMs);
          timer.unref();
          let fields = 0;
          return {
            willResolveField() {
              if (stop) throw stop;
              if (++fields > opts.maxFields) {
                throw halt(
                  new PublicError('RESPONSE_TOO_LARGE', `The response would hold more than ${opts.maxFields} fields: ask for less`, {
                    limit: opts.maxFields,
                    http: { status: 400 },
                  }),
                );
              }
              if ((fields & 63) === 0 && performance.now() > deadline) throw halt(timedOut());
            },
            async executionDidEnd() {
              clearTimeout(timer);
            },
          };
        },
        async willSendResponse({ response }) {
          if (!stop || response.body.kind !== 'single') return;
          const code = stop.extensions.code as string;
          response.body.singleResult = { errors: [{ message: stop.message, extensions: { code, limit: stop.extensions.limit } }] };
          response.http.status = code === 'REQUEST_TIMEOUT' ? 503 : 400;
        },
      };
    },
  };
}
