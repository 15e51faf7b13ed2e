import type { ApolloServerPlugin } from '@apollo/server';
import { createHash } from 'node:crypto';
import { GraphQLError, Kind, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { Context } from '../context';
import { PublicError } from '../errors';
import type { CostBoundsCache } from './cost-bounds';
import type { CostContext } from './cost';
import type { HeavyGate } from './heavy-gate';

const COSTS_KEPT_PER_DOCUMENT = 64;

export interface CostLimitOptions {
  maxComplexity: number;
  countRowsPerPoint: number;
  bounds: CostBoundsCache;
  /** Heavy requests take turns (security/heavy-gate.ts). */
  gate?: HeavyGate;
  /** Called with the cost of every operation priced (the response cache stores it with the answer). */
  priced?: (ctx: Context, cost: number) => void;
  /** Called with the cost of every operation accepted (the rate limiter charges it). */
  charge?: (ctx: Context, cost: number, operation: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>) => Promise<void>;
}

/** What one operation of `document` costs under the given figures (security/cost.ts). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  request: { operationName?: string; variables?: Record<string, unknown> },
  context: Omit<CostContext, 'fragments'> & { fragments?: CostContext['fragments'] },
): number {
  const fragments = context.fragments ?? fragmentsIn(document);
  return getComplexity({
    schema,
    query: document,
    operationName: request.operationName,
    variables: request.variables,
    context: { ...context, fragments } satisfies CostContext,
    estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
  });
}

function fragmentsIn(document: DocumentNode): Record<string, FragmentDefinitionNode> {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return fragments;
}

/** Computes what an operation can cost (security/cost.ts) and refuses it over the limit, before it runs. */
export function costLimitPlugin(schema: GraphQLSchema, opts: CostLimitOptions): ApolloServerPlugin<Context> {
  const costs = new WeakMap<DocumentNode, Map<string, number>>();
  const fragmentsOf = new WeakMap<DocumentNode, Record<string, FragmentDefinitionNode>>();
  return {
    async requestDidStart() {
      let release: (() => void) | null = null;
      return {
        async willSendResponse() {
          release?.();
          release = null;
        },
        async didResolveOperation({ request, document, operation, contextValue }) {
          let fragments = fragmentsOf.get(document);
          if (!fragments) fragmentsOf.set(document, (fragments = fragmentsIn(document)));
          const { bounds, version } = opts.bounds.current();
          // Apollo hands the same parsed document to every request with the same query text,
          // so its cost is kept per document, variables and figures rather than walked every time.
          // Only the variables the operation declares count, hashed: extra ones change nothing,
          // and a key must not keep a client's (possibly huge) values in memory.
          // An operation without variables (most of them) has nothing to hash.
          const declared = operation?.variableDefinitions;
          const values = declared?.length ? createHash('sha1').update(JSON.stringify(declared.map((d) => request.variables?.[d.variable.name.value] ?? null))).digest('base64') : '';
          const key = `${version}\0${request.operationName ?? ''}\0${values}`;
          let known = costs.get(document);
          if (!known) costs.set(document, (known = new Map()));
          let cost = known.get(key);
          if (cost === undefined) {
            try {
              cost = operationCost(schema, document, { operationName: request.operationName, variables: request.variables }, {
                bounds,
                countRowsPerPoint: opts.countRowsPerPoint,
                fragments,
              });
            } catch (err) {
              // Variables that do not fit their types: execution refuses them (400, schema details
              // hidden in production) before any resolver runs, so there is nothing to price.
              if (err instanceof GraphQLError && !err.path) return;
              throw err;
            }
            if (known.size >= COSTS_KEPT_PER_DOCUMENT) known.clear();
            known.set(key, cost);
          }
          opts.priced?.(contextValue, cost);
          if (cost > opts.maxComplexity) {
            throw new PublicError(
              'BAD_USER_INPUT',
              `The query costs ${cost}, over the limit of ${opts.maxComplexity}: ask for smaller pages or fewer fields`,
              { cost, limit: opts.maxComplexity, http: { status: 400 } },
            );
          }
          if (operation) await opts.charge?.(contextValue, cost, operation, fragments);
          // Charged first: a client over its budget is refused without waiting for a turn.
          if (opts.gate && cost >= opts.gate.opts.heavyCost) release = await opts.gate.enter(cost);
        },
      };
    },
  };
}
