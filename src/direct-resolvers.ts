import { GraphQLObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { getMetadataStorage } from 'type-graphql';

type Param = { kind: string; index: number; propertyName?: string };
type FieldResolverMeta = {
  kind: 'internal' | 'external';
  target: Function;
  methodName: string;
  schemaName: string;
  params?: Param[];
  roles?: unknown[];
  middlewares?: unknown[];
  getObjectType?: () => Function;
};

/**
 * type-graphql wraps every field resolver of a resolver class: per call it asks its container
 * for the instance, sorts the parameter metadata, copies the parent into an instance of its
 * class (`convertToType`, an `Object.assign` per row and field) and runs the middleware chain.
 * A field resolver that takes only @Root/@Ctx/@Info, with no middleware and no roles, gets
 * nothing from that: it is called directly here, with the parameters mapped once. Fields with
 * arguments keep the wrapper (it converts and validates input objects). The resolver methods
 * only read the parent's properties, so the parent need not be an instance of its class.
 */
export function directFieldResolvers(schema: GraphQLSchema, resolverClasses: readonly Function[]): number {
  const storage = getMetadataStorage() as unknown as {
    fieldResolvers: FieldResolverMeta[];
    objectTypes: { name: string; target: Function }[];
  };
  const instances = new Map<Function, Record<string, (...a: unknown[]) => unknown>>();
  let replaced = 0;
  for (const meta of storage.fieldResolvers) {
    if (meta.kind !== 'external' || !resolverClasses.includes(meta.target) || !meta.getObjectType || meta.roles?.length || meta.middlewares?.length) continue;
    const params = [...(meta.params ?? [])].sort((a, b) => a.index - b.index);
    if (!params.every((p) => p.kind === 'root' || p.kind === 'context' || p.kind === 'info')) continue;
    const objectTarget = meta.getObjectType();
    const typeName = storage.objectTypes.find((o) => o.target === objectTarget)?.name;
    const type = typeName ? schema.getType(typeName) : undefined;
    const field = type instanceof GraphQLObjectType ? type.getFields()[meta.schemaName] : undefined;
    if (!field) continue;
    let instance = instances.get(meta.target);
    if (!instance) instances.set(meta.target, (instance = new (meta.target as new () => Record<string, (...a: unknown[]) => unknown>)()));
    const method = instance[meta.methodName].bind(instance);
    field.resolve = directCall(method, params);
    replaced++;
  }
  return replaced;
}

function directCall(method: (...a: unknown[]) => unknown, params: Param[]): GraphQLFieldResolver<unknown, unknown> {
  const pick = params.map((p): ((root: any, ctx: any, info: unknown) => unknown) => {
    if (p.kind === 'info') return (_r, _c, info) => info;
    const prop = p.propertyName;
    if (p.kind === 'context') return prop ? (_r, ctx) => ctx[prop] : (_r, ctx) => ctx;
    return prop ? (root) => root[prop] : (root) => root;
  });
  // The common shapes without an array per call.
  const kinds = params.map((p) => (p.propertyName ? 'x' : p.kind)).join(',');
  if (kinds === 'root') return (root) => method(root);
  if (kinds === 'root,context') return (root, _args, ctx) => method(root, ctx);
  return (root, _args, ctx, info) => method(...pick.map((f) => f(root, ctx, info)));
}
