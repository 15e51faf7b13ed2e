import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import type { Context } from '../context';
import { ReadSets, fragmentsOf, writeSetOf } from './read-set';
import type { DataVersionSource } from './response-cache';

export interface CachePluginOptions {
  versions: DataVersionSource & { touch(names: Iterable<string>): void };
}

/**
 * The response cache's part inside Apollo. For a query with a ticket (a miss the middleware
 * may store): its read set and their version before it runs; storable only when it succeeded
 * without errors, read from the primary, and the version is the same after it ran. For a
 * mutation: the relations it wrote get new versions before the response is sent, so this
 * instance never serves what its own write changed.
 */
export function responseCachePlugin(schema: GraphQLSchema, opts: CachePluginOptions): ApolloServerPlugin<Context> {
  const readSets = new ReadSets(schema);
  const { versions } = opts;
  return {
    async requestDidStart() {
      let writes: string[] = [];
      return {
        async didResolveOperation({ document, operation, contextValue }) {
          if (!operation) return;
          if (operation.operation === 'mutation') {
            writes = writeSetOf(schema, operation, fragmentsOf(document));
            return;
          }
          const ticket = contextValue.cacheTicket;
          if (!ticket) return;
          const set = readSets.of(document, operation);
          if (!('reads' in set)) return;
          // A standby may lag: an answer read there could be older than the version (docs/cache.md).
          if (contextValue.reads.target.kind !== 'primary') return;
          ticket.reads = set.reads;
          ticket.version = versions.versionOf(set.reads);
        },
        async willSendResponse({ response, contextValue }) {
          if (writes.length) versions.touch(writes);
          const ticket = contextValue.cacheTicket;
          if (!ticket?.version || !ticket.reads) return;
          const body = response.body;
          if (body.kind !== 'single' || body.singleResult.errors?.length || (response.http.status ?? 200) !== 200) return;
          if (contextValue.reads.target.kind !== 'primary') return;
          // A change heard while it ran: the answer may hold data older or newer than the version.
          if (versions.versionOf(ticket.reads) !== ticket.version) return;
          ticket.storable = true;
        },
      };
    },
  };
}
