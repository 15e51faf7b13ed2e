import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import type { Context } from '../../context';
import { BadUserInputError } from '../../errors';
import { listCost } from '../../security/cost';
import { asNode, decodeNodeId, MAX_NODE_IDS, NodeInterface, type NodeTypeName } from '../common/node';
import { READ_TABLES, Reads } from '../common/reads';

// Refetch by global id (Relay's Node interface): every lookup goes through the request's
// DataLoaders, so `nodes` with a hundred ids of three types costs at most three statements.

/** The object a nodeId names, through the loaders; null for an unknown or malformed id. */
async function loadNode(ctx: Context, nodeId: string): Promise<object | null> {
  const ref = decodeNodeId(nodeId);
  if (!ref) return null;
  const load: Record<NodeTypeName, (id: number) => Promise<object | null>> = {
    GearItem: (id) => ctx.loaders.items.load(id),
    GearReview: (id) => ctx.loaders.reviews.load(id),
    Category: (id) => ctx.loaders.categories.load(id),
  };
  return asNode(ref.type, await load[ref.type](ref.id));
}

/** `nodes` costs what its selection costs per id given (at most MAX_NODE_IDS), plus one. */
const nodesComplexity = listCost((args) => Math.min(Array.isArray(args.nodeIds) ? args.nodeIds.length : 0, MAX_NODE_IDS));

@Resolver()
export class NodeResolver {
  @Reads(READ_TABLES.item, READ_TABLES.review, READ_TABLES.category)
  @Query(() => NodeInterface, {
    nullable: true,
    description: 'The object with this global id (Node.nodeId); null when there is none or the id is not one of ours.',
  })
  node(@Arg('nodeId', () => ID) nodeId: string, @Ctx() ctx: Context): Promise<object | null> {
    return loadNode(ctx, nodeId);
  }

  @Reads(READ_TABLES.item, READ_TABLES.review, READ_TABLES.category)
  @Query(() => [NodeInterface], {
    nullable: 'items',
    description: `The objects with these global ids, in the order given: null in the place of an unknown
or malformed id. At most ${MAX_NODE_IDS} ids, else BAD_USER_INPUT. Batched: one statement per type.`,
    complexity: nodesComplexity,
  })
  nodes(@Arg('nodeIds', () => [ID]) nodeIds: string[], @Ctx() ctx: Context): Promise<(object | null)[]> {
    if (nodeIds.length > MAX_NODE_IDS) throw new BadUserInputError(`nodeIds may hold at most ${MAX_NODE_IDS} ids`, 'nodeIds');
    return Promise.all(nodeIds.map((id) => loadNode(ctx, id)));
  }
}
