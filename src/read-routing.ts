import type { ApolloServerPlugin, GraphQLRequestListener } from '@apollo/server';
import type { Context } from './context';

/**
 * A mutation reads from the primary, so its payload shows its own write (a standby may not
 * have replayed it yet). The operation's type is known only once Apollo has resolved which
 * operation runs, after the context was made: this hook runs then, before any resolver.
 * Queries keep the target their context chose.
 */
const readRoutingListener: GraphQLRequestListener<Context> = {
  async didResolveOperation({ operation, contextValue }) {
    if (operation?.operation === 'mutation') contextValue.reads.readFromPrimary();
  },
};
export const readRoutingPlugin: ApolloServerPlugin<Context> = {
  // One listener for every request: it keeps nothing of its own.
  async requestDidStart() {
    return readRoutingListener;
  },
};
