import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import type { GraphQLSchema, ValidationRule } from 'graphql';
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

/** Refuses an operation whose estimated cost is over the limit, before it runs. */
export function complexityPlugin(schema: GraphQLSchema, limits: RequestLimits): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const cost = getComplexity({
            schema,
            query: document,
            operationName: request.operationName,
            variables: request.variables,
            estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
          });
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
