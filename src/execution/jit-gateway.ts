import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import {
  BREAK,
  Kind,
  TypeInfo,
  execute,
  getNamedType,
  getVariableValues,
  isAbstractType,
  isInputObjectType,
  isScalarType,
  isSpecifiedScalarType,
  printSchema,
  typeFromAST,
  visit,
  visitWithTypeInfo,
  type ASTNode,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLInputObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { LRUCache } from 'lru-cache';
import type { Context } from '../context';
import { restartFieldCount } from '../security/budget';

type Gateway = ApolloServerOptionsWithGateway<Context>['gateway'];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;
type GatewayRequestContext = Parameters<Executor>[0];

export interface JitOptions {
  /** A query is compiled the n-th time it is asked (1: at once); until then graphql-js runs it. */
  compileAfter: number;
  /** Operations with more selections (fragments expanded) always run on graphql-js. */
  maxSelections: number;
  /** Selections of all the compiled queries kept, least recently used dropped first. */
  cacheSelections: number;
}

/** How a query was run, for the tests and the benchmark. */
export interface JitCounters {
  compiled: number;
  jit: number;
  graphqlJs: number;
  /** Ran compiled, had errors, and was run again by graphql-js for its exact answer. */
  rerun: number;
}

/** A query that graphql-jit runs: its compiled form and what to check before each run. */
interface Plan {
  query: CompiledQuery['query'];
  /** Its size in the cache: the code graphql-jit generates grows with the selections it unrolls. */
  selections: number;
  hasVariables: boolean;
  /** Variables inside a list or input object literal: graphql-jit leaves null where one is not given, graphql-js leaves the field out. */
  nestedVariables: readonly string[];
}

/** Runs on graphql-js, always (the reason is in `unsupported`). */
const GRAPHQL_JS = 'graphql-js' as const;

/** Queries asked fewer than compileAfter times, remembered. */
const MAX_ASKED = 10_000;

/** Literal argument values whose JSON holds this are rewritten by graphql-jit's code generator (see `unsupported`). */
const JIT_MAGIC = '__MAGIC_';

/**
 * Executes queries with graphql-jit (compiled once per query, kept in a bounded LRU) in place
 * of graphql-js, through Apollo's gateway interface: Apollo still parses, validates and runs
 * every plugin hook but willResolveField, which no plugin of ours has (the execution budget
 * wraps the resolvers instead).
 *
 * Answers stay graphql-js's, byte for byte: what graphql-jit would answer differently runs on
 * graphql-js instead: mutations, variable values graphql-js refuses (its messages and codes),
 * what `unsupported` finds in the document, and every compiled run that had an error
 * (graphql-jit words, orders and propagates errors its own way): that request is run again
 * on graphql-js, with the budget's field count restarted; its loaders answer from their cache.
 */
export function jitGateway(schema: GraphQLSchema, opts: JitOptions, counters?: JitCounters): Gateway {
  // Compiling is slow beside running (milliseconds for a page, a quarter second for 1,500
  // selections, on the event loop) and the code takes memory (a few KB per selection): only
  // queries asked again are compiled, and the cache is bounded by what they hold.
  const plans = new LRUCache<string, Plan | typeof GRAPHQL_JS>({
    maxSize: opts.cacheSelections,
    sizeCalculation: (plan) => (plan === GRAPHQL_JS ? 1 : plan.selections),
  });
  const asked = new LRUCache<string, number>({ max: MAX_ASKED });
  let onSchema: Parameters<Gateway['onSchemaLoadOrUpdate']>[0] | null = null;

  const graphqlJs = (rc: GatewayRequestContext): ExecutionResult | Promise<ExecutionResult> => {
    if (counters) counters.graphqlJs++;
    // As Apollo runs it without a gateway (the client's operationName, the raw variables).
    return execute({
      schema,
      document: rc.document,
      contextValue: rc.context,
      variableValues: rc.request.variables,
      operationName: rc.request.operationName,
    });
  };

  const planFor = (rc: GatewayRequestContext, operation: OperationDefinitionNode): Plan | typeof GRAPHQL_JS | null => {
    const key = `${rc.queryHash}\n${rc.operationName ?? ''}`;
    const found = plans.get(key);
    if (found) return found;
    const times = (asked.get(key) ?? 0) + 1;
    if (times < opts.compileAfter) {
      asked.set(key, times);
      return null;
    }
    asked.delete(key);
    const plan = compile(schema, rc.document, operation, rc.operationName ?? undefined, Math.min(opts.maxSelections, opts.cacheSelections));
    if (counters && plan !== GRAPHQL_JS) counters.compiled++;
    plans.set(key, plan);
    return plan;
  };

  const executor: Executor = async (rc) => {
    // Apollo leaves the operation unset when it cannot tell which one runs: graphql-js says why.
    const operation = rc.operation as OperationDefinitionNode | undefined;
    if (!operation || operation.operation !== 'query') return graphqlJs(rc);
    const plan = planFor(rc, operation);
    if (!plan || plan === GRAPHQL_JS) return graphqlJs(rc);
    const variables = rc.request.variables;
    if (plan.hasVariables) {
      const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 50 });
      if (coerced.errors) return graphqlJs(rc);
      for (const name of plan.nestedVariables) {
        if (!Object.prototype.hasOwnProperty.call(coerced.coerced, name)) return graphqlJs(rc);
      }
    }
    let result: ExecutionResult;
    try {
      result = await plan.query(undefined, rc.context, variables);
    } catch {
      result = { errors: [] };
    }
    if (result.data && !result.errors) {
      if (counters) counters.jit++;
      return result;
    }
    if (counters) counters.rerun++;
    restartFieldCount(rc.context);
    return graphqlJs(rc);
  };

  return {
    onSchemaLoadOrUpdate(callback) {
      onSchema = callback;
      return () => {
        onSchema = null;
      };
    },
    async load() {
      onSchema?.({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return { executor };
    },
    async stop() {
      plans.clear();
      asked.clear();
    },
  };
}

/** The compiled query, or GRAPHQL_JS when graphql-jit would answer it differently. */
function compile(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, operationName: string | undefined, maxSelections: number): Plan | typeof GRAPHQL_JS {
  const selections = selectionsOf(document, operation);
  if (selections > maxSelections) return GRAPHQL_JS;
  const nestedVariables = unsupported(schema, document);
  if (nestedVariables === GRAPHQL_JS) return GRAPHQL_JS;
  let compiled: CompiledQuery | ExecutionResult;
  try {
    // Its errors are never shown (such a run is answered by graphql-js): no stacks to capture.
    compiled = compileQuery<Record<string, unknown>, Record<string, unknown>>(schema, document, operationName, { disablingCapturingStackErrors: true });
  } catch {
    return GRAPHQL_JS;
  }
  if (!isCompiledQuery(compiled)) return GRAPHQL_JS;
  return { query: compiled.query, selections, hasVariables: Boolean(operation.variableDefinitions?.length), nestedVariables: [...new Set(nestedVariables)] };
}

/** Fields the operation selects with every fragment spread expanded, as graphql-jit unrolls them. */
function selectionsOf(document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map<string, SelectionSetNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d.selectionSet);
  // Validation let no fragment spread itself; each one is counted once and reused.
  const counted = new Map<string, number>();
  const count = (set: SelectionSetNode | undefined): number => {
    let n = 0;
    for (const sel of set?.selections ?? []) {
      if (sel.kind === Kind.FIELD) n += 1 + count(sel.selectionSet);
      else if (sel.kind === Kind.INLINE_FRAGMENT) n += count(sel.selectionSet);
      else {
        const name = sel.name.value;
        let c = counted.get(name);
        if (c === undefined) counted.set(name, (c = count(fragments.get(name))));
        n += c;
      }
    }
    return n;
  };
  return count(operation.selectionSet);
}

/**
 * GRAPHQL_JS when the document uses something graphql-jit answers differently; else the
 * variables it places inside list or input object literals.
 *
 * Introspection, and fields of an interface or union: type-graphql's resolveType is async,
 * which graphql-jit does not await. @skip/@include: graphql-js orders the fields by the
 * spread it took first. A `__proto__` alias: graphql-jit builds objects with literals, where
 * it sets the prototype. A variable of a recursive input type (see `cyclicInputs`).
 *
 * Literal arguments: graphql-jit writes their values into the code it generates as JSON,
 * then rewrites the strings that start with its markers for NaN, ±Infinity and dates into
 * code; a client string holding the date marker would become code that runs on the server.
 * A literal holding a marker runs on graphql-js, and so does a literal of a custom scalar
 * (whose parsed value, which may carry client text, is not seen here).
 */
function unsupported(schema: GraphQLSchema, document: DocumentNode): string[] | typeof GRAPHQL_JS {
  const typeInfo = new TypeInfo(schema);
  const cyclic = cyclicInputs(schema);
  const nested: string[] = [];
  let refuse = false;
  const stop = () => {
    refuse = true;
    return BREAK;
  };
  const literal = () => {
    const type = typeInfo.getInputType();
    const named = type && getNamedType(type);
    return named && isScalarType(named) && !isSpecifiedScalarType(named) ? stop() : undefined;
  };
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      VariableDefinition(node) {
        const type = typeFromAST(schema, node.type);
        const named = type && getNamedType(type);
        return !named || (isInputObjectType(named) && cyclic.has(named)) ? stop() : undefined;
      },
      Directive: (node) => (node.name.value === 'skip' || node.name.value === 'include' ? stop() : undefined),
      Field(node) {
        const def = typeInfo.getFieldDef();
        const abstract = def && isAbstractType(getNamedType(def.type));
        if (!def || abstract || node.name.value === '__schema' || node.name.value === '__type' || node.alias?.value === '__proto__') return stop();
        return undefined;
      },
      StringValue: (node) => (node.value.includes(JIT_MAGIC) ? stop() : literal()),
      IntValue: literal,
      FloatValue: literal,
      BooleanValue: literal,
      EnumValue: literal,
      Variable(node, _key, parent) {
        const direct = !Array.isArray(parent) && ((parent as ASTNode).kind === Kind.ARGUMENT || (parent as ASTNode).kind === Kind.VARIABLE_DEFINITION);
        if (!direct) nested.push(node.name.value);
      },
    }),
  );
  return refuse ? GRAPHQL_JS : nested;
}

const cyclicBySchema = new WeakMap<GraphQLSchema, Set<GraphQLInputObjectType>>();

/**
 * The input object types from which a cycle can be reached (GearItemFilter's and/or/not). A
 * variable of such a type runs on graphql-js: graphql-jit generates its coercion code by
 * unrolling the type, which never ends on a cycle and takes the process's memory
 * (graphql-jit issue 81).
 */
function cyclicInputs(schema: GraphQLSchema): Set<GraphQLInputObjectType> {
  const known = cyclicBySchema.get(schema);
  if (known) return known;
  const cyclic = new Set<GraphQLInputObjectType>();
  const done = new Set<GraphQLInputObjectType>();
  // Depth first; a type met again while still on the path closes a cycle.
  const walk = (type: GraphQLInputObjectType, path: GraphQLInputObjectType[]): boolean => {
    if (path.includes(type)) return true;
    if (done.has(type)) return cyclic.has(type);
    let reaches = false;
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      if (isInputObjectType(named) && walk(named, [...path, type])) reaches = true;
    }
    done.add(type);
    if (reaches) cyclic.add(type);
    return reaches;
  };
  for (const type of Object.values(schema.getTypeMap())) if (isInputObjectType(type)) walk(type, []);
  cyclicBySchema.set(schema, cyclic);
  return cyclic;
}
