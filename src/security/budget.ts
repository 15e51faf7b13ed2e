import type { ApolloServerPlugin } from '@apollo/server';
import {
  defaultFieldResolver,
  getNamedType,
  GraphQLObjectType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
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
 * Fields are counted by a wrapper this plugin puts on the schema's resolvers when the server
 * starts (countFields), not by Apollo's willResolveField hook: that hook makes Apollo wrap
 * every field with its own dispatcher (a hook call over the listeners and a closure per
 * field), which cost more than the check itself. The count covers the same fields Apollo's
 * would (every field of every object type but the introspection types).
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

/**
 * Puts the counting wrapper on the fields that do work or fan out: those with a resolver of
 * their own (SQL, a loader) and lists of objects. A field read straight off its parent (a
 * leaf, or an object, without a resolver) keeps none, so compiled execution (graphql-jit)
 * reads it as a plain property instead of calling a function with a resolve info per row:
 * such fields are charged in bulk by the wrapped field above them, once its value is known,
 * as its items times the unwrapped fields its selection holds (unwrappedBelow). The count is
 * what one field at a time gave, or more: the fields below an object that turns out null, or
 * in a fragment on another type, are counted too.
 */
function countFields(schema: GraphQLSchema): void {
  if (wrapped.has(schema)) return;
  wrapped.add(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (getNamedType(type).name.startsWith('__') || !(type instanceof GraphQLObjectType)) continue;
    for (const field of Object.values(type.getFields())) {
      if (!countsItself(field)) continue;
      const resolve = field.resolve ?? defaultFieldResolver;
      const charges = isCompositeType(getNamedType(field.type));
      field.resolve = (source, args, contextValue, info) => {
        const b = (contextValue as Record<symbol, Budget | undefined> | undefined)?.[BUDGET];
        if (b === undefined) return resolve(source, args, contextValue, info);
        spend(b, 1);
        const value = resolve(source, args, contextValue, info);
        if (!charges) return value;
        const below = unwrappedBelow(schema, info);
        if (below === 0) return value;
        return isPromise(value) ? value.then((v) => (spend(b, below * itemsOf(v)), v)) : (spend(b, below * itemsOf(value)), value);
      };
    }
  }
}

function countsItself(field: GraphQLField<unknown, unknown>): boolean {
  if (field.resolve) return true;
  let type = field.type;
  if (isNonNullType(type)) type = type.ofType;
  return isListType(type) && isCompositeType(getNamedType(type));
}

/** The objects a value holds, for lists at any depth; null holds none. */
function itemsOf(value: unknown): number {
  if (value == null) return 0;
  if (!Array.isArray(value)) return 1;
  let n = 0;
  for (const v of value) n += itemsOf(v);
  return n;
}

/**
 * The fields without a wrapper selected below a field, per item it returns: counted once per
 * place in a document (a superset: every fragment, whatever its type condition or
 * @skip/@include, so a bound is never passed uncounted).
 */
const unwrappedCounts = new WeakMap<FieldNode, number>();

function unwrappedBelow(schema: GraphQLSchema, info: GraphQLResolveInfo): number {
  const key = info.fieldNodes[0];
  let n = unwrappedCounts.get(key);
  if (n === undefined) {
    n = countUnwrapped(schema, getNamedType(info.returnType) as GraphQLCompositeType, info.fieldNodes.map((f) => f.selectionSet), info.fragments, new Set());
    unwrappedCounts.set(key, n);
  }
  return n;
}

function countUnwrapped(
  schema: GraphQLSchema,
  parent: GraphQLCompositeType,
  sets: readonly (SelectionSetNode | undefined)[],
  fragments: Record<string, FragmentDefinitionNode>,
  seen: Set<string>,
): number {
  let n = 0;
  for (const set of sets) {
    for (const s of set?.selections ?? []) {
      if (s.kind === Kind.FIELD) {
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[s.name.value] : undefined;
        // __typename and other meta fields are not counted, as the wrapper never counted them.
        if (!field || countsItself(field)) continue;
        n += 1;
        const named = getNamedType(field.type);
        if (isCompositeType(named)) n += countUnwrapped(schema, named, [s.selectionSet], fragments, seen);
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        const type = s.typeCondition ? schema.getType(s.typeCondition.name.value) : parent;
        if (type && isCompositeType(type)) n += countUnwrapped(schema, type, [s.selectionSet], fragments, seen);
      } else if (!seen.has(s.name.value)) {
        // Validation forbids fragment cycles; a spread is counted once per place anyway.
        const f = fragments[s.name.value];
        const type = f && schema.getType(f.typeCondition.name.value);
        if (f && type && isCompositeType(type)) n += countUnwrapped(schema, type, [f.selectionSet], fragments, new Set(seen).add(s.name.value));
      }
    }
  }
  return n;
}

function spend(b: Budget, n: number): void {
  if (b.stop) throw b.stop;
  const before = b.fields;
  b.fields += n;
  if (b.fields > b.maxFields) {
    throw halt(
      b,
      new PublicError('RESPONSE_TOO_LARGE', `The response would hold more than ${b.maxFields} fields: ask for less`, {
        limit: b.maxFields,
        http: { status: 400 },
      }),
    );
  }
  // The clock every 64 fields counted.
  if (before >> 6 !== b.fields >> 6 && performance.now() > b.deadline) throw halt(b, b.timedOut());
}

const isPromise = (v: unknown): v is Promise<unknown> => typeof (v as Promise<unknown> | null)?.then === 'function';
