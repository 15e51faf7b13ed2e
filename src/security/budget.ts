import type { ApolloServerPlugin } from '@apollo/server';
import { defaultFieldResolver, getNamedType, GraphQLObjectType, type GraphQLSchema } from 'graphql';
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

/** One request's budget while it executes, where the field wrapper finds it: on its context. */
interface Budget {
  fields: number;
  readonly maxFields: number;
  readonly deadline: number;
  stop: PublicError | null;
  readonly timedOut: () => PublicError;
  /** The request's: aborted when it is past a bound, so its statements not yet sent are not sent. */
  readonly cancel: Context['cancel'] | undefined;
}

/** Past a bound: every further field fails with `err`, and so do the statements not yet sent. */
function halt(b: Budget, err: PublicError): PublicError {
  b.stop ??= err;
  // A context made by tally has one; one passed to Apollo by other code may not.
  b.cancel?.abort(b.stop);
  return b.stop;
}
const BUDGET = Symbol('execution budget');

/**
 * Bounds while a request runs: a deadline and a cap on the fields it resolves. The cost
 * model should keep every accepted query well inside both; these are what holds when its
 * figures are stale or wrong. Past either, every further field fails at once (so the rest
 * of the walk is cut short) and the response is one coded error, without partial data.
 *
 * Each field is counted by a wrapper this plugin puts on the schema's resolvers when the
 * server starts, not by Apollo's willResolveField hook: that hook makes Apollo wrap every
 * field with its own dispatcher (a hook call over the listeners and a closure per field),
 * which cost more than the check itself. The wrapper covers the same fields Apollo's would
 * (every field of every object type but the introspection types) and runs at the same point,
 * before the resolver.
 */
export function executionBudgetPlugin(opts: ExecutionBudgetOptions): ApolloServerPlugin<Context> {
  return {
    async serverWillStart({ schema }) {
      countFields(schema);
    },
    async requestDidStart() {
      let budget: Budget | null = null;
      return {
        async executionDidStart({ contextValue }) {
          if (opts.exempt?.(contextValue)) return;
          const timedOut = () =>
            new PublicError('REQUEST_TIMEOUT', `The request ran past its ${opts.timeoutMs} ms deadline`, {
              limit: opts.timeoutMs,
              http: { status: 503 },
            });
          const b: Budget = {
            fields: 0,
            maxFields: opts.maxFields,
            deadline: performance.now() + opts.timeoutMs,
            stop: null,
            timedOut,
            cancel: (contextValue as Partial<Context>).cancel,
          };
          budget = b;
          (contextValue as unknown as Record<symbol, Budget>)[BUDGET] = b;
          // Fires while the request waits (on the database); a long synchronous walk is
          // caught by the clock check in the wrapper, every 64 fields.
          const timer = setTimeout(() => halt(b, timedOut()), opts.timeoutMs);
          timer.unref();
          return {
            async executionDidEnd() {
              clearTimeout(timer);
            },
          };
        },
        async willSendResponse({ response }) {
          const stop = budget?.stop;
          if (!stop || response.body.kind !== 'single') return;
          const code = stop.extensions.code as string;
          response.body.singleResult = { errors: [{ message: stop.message, extensions: { code, limit: stop.extensions.limit } }] };
          response.http.status = code === 'REQUEST_TIMEOUT' ? 503 : 400;
        },
      };
    },
  };
}

/**
 * Forgets the fields counted so far, for an executor that runs the request again from its
 * start (execution/jit-gateway.ts); a bound already passed stays passed, and the deadline stays.
 */
export function restartFieldCount(contextValue: object): void {
  const b = (contextValue as Record<symbol, Budget | undefined>)[BUDGET];
  if (b && !b.stop) b.fields = 0;
}

const wrapped = new WeakSet<GraphQLSchema>();

function countFields(schema: GraphQLSchema): void {
  if (wrapped.has(schema)) return;
  wrapped.add(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (getNamedType(type).name.startsWith('__') || !(type instanceof GraphQLObjectType)) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, contextValue, info) => {
        const b = (contextValue as Record<symbol, Budget | undefined> | undefined)?.[BUDGET];
        if (b !== undefined) spend(b);
        return resolve(source, args, contextValue, info);
      };
    }
  }
}

function spend(b: Budget): void {
  if (b.stop) throw b.stop;
  if (++b.fields > b.maxFields) {
    throw halt(
      b,
      new PublicError('RESPONSE_TOO_LARGE', `The response would hold more than ${b.maxFields} fields: ask for less`, {
        limit: b.maxFields,
        http: { status: 400 },
      }),
    );
  }
  if ((b.fields & 63) === 0 && performance.now() > b.deadline) throw halt(b, b.timedOut());
}
