import { Field, ID, InterfaceType } from 'type-graphql';
import { READ_TABLES, Reads } from './reads';

// Relay global object identification, PostGraphile's way: a `nodeId` that is base64 of a
// JSON array naming the type and the row id (`["GearItem",42]`), opaque to clients and
// unique across types, beside the per-type `id` the contract keeps.

export const NODE_TYPES = ['GearItem', 'GearReview', 'Category'] as const;
export type NodeTypeName = (typeof NODE_TYPES)[number];

/** At most this many ids per `nodes` call. */
export const MAX_NODE_IDS = 100;

const MAX_ID = 2_147_483_647;

/** Where a value handed to the Node interface says which object type it is. */
export const NODE_TYPE = Symbol('nodeType');

export function encodeNodeId(type: NodeTypeName, id: number): string {
  return Buffer.from(JSON.stringify([type, id])).toString('base64');
}

/** The type and row id a nodeId names; null for anything this server did not make. */
export function decodeNodeId(nodeId: string): { type: NodeTypeName; id: number } | null {
  if (typeof nodeId !== 'string' || nodeId.length > 100 || !/^[A-Za-z0-9+/]+={0,2}$/.test(nodeId)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(nodeId, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return null;
  const [type, id] = parsed as unknown[];
  if (!NODE_TYPES.includes(type as NodeTypeName)) return null;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_ID) return null;
  return { type: type as NodeTypeName, id };
}

/** The object as the Node interface resolves it: a copy tagged with its type. */
export function asNode<T extends object>(type: NodeTypeName, value: T | null): (T & { [NODE_TYPE]: NodeTypeName }) | null {
  return value === null ? null : { ...value, [NODE_TYPE]: type };
}

@InterfaceType('Node', {
  description: 'An object with a global id: refetch it with `node(nodeId:)` (Relay: nodeInterfaceIdField "nodeId").',
  resolveType: (value: { [NODE_TYPE]?: NodeTypeName }) => value[NODE_TYPE],
})
export abstract class NodeInterface {
  @Reads(READ_TABLES.item, READ_TABLES.review, READ_TABLES.category)
  @Field(() => ID, {
    description: 'Globally unique, opaque, type-tagged id (base64 of a JSON array of the type name and the row id). `id` stays the row id.',
  })
  nodeId!: string;
}
