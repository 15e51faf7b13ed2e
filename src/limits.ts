import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import type { DocumentNode, GraphQLSchema, ValidationRule } from 'graphql';
import depthLimit from 'graphql-depth-limit';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { Context } from './context';
import { PublicError } from './errors';

export interface RequestLimits {
  maxDepth: number;
  maxComplexity: number;
  maxAliases: number;
}

/** Depth and alias limits, checked with the rest of validation: before any resolver runs. */
export function limitRules(limits: RequestLimits): ValidationRule[] {
  const aliases = maxAliasesRule({
    n: limits.maxAliases,
    // Report it as a validation error; thrown, Apollo would answer it as an internal one.
    propagateOnRejection: false,
    onReject: [(ctx, err) => ctx?.reportError(err)],
  }) as ValidationRule;
  return [depthLimit(limits.maxDepth), aliases];
}

const COSTS_KEPT_PER_DOCUMENT = 64;

/** Refuses an operation whose estimated cost is over the limit, before it runs. */
export function complexityPlugin(schema: GraphQLSchema, limits: RequestLimits): ApolloServerPlugin<Context> {
  const costs = new WeakMap<DocumentNode, Map<string, number>>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          // Apollo hands the same parsed document to every request with the same query text,
          // so its cost is kept per document and variables rather than walked every time.
          const key = `${request.operationName ?? ''}\0${JSON.stringify(request.variables ?? {})}`;
          let known = costs.get(document);
          if (!known) costs.set(document, (known = new Map()));
          let cost = known.get(key);
          if (cost === undefined) {
            cost = getComplexity({
              schema,
              query: document,
              operationName: request.operationName,
              variables: request.variables,
              estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
            });
            if (known.size < COSTS_KEPT_PER_DOCUMENT) known.set(key, cost);
          }
          if (cost > limits.maxComplexity) {
            throw new PublicError(
              'BAD_USER_INPUT',
              `The query costs ${cost}, over the limit of ${limits.maxComplexity}: ask for smaller pages or fewer fields`,
              { cost, limit: limits.maxComplexity, http: { status: 400 } },
            );
          }
        },
      };
    },
  };
}
