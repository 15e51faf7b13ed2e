import {
  Kind,
  getNamedType,
  isInterfaceType,
  isObjectType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { READS_EXTENSION, UNCACHEABLE, WRITES_EXTENSION } from '../modules/common/reads';

/** Why an operation is not cached, or what it reads (sorted, distinct). */
export type ReadSet = { reads: string[] } | { uncacheable: string };

/**
 * What an operation reads: the union of the `reads` extensions (modules/common/reads.ts) of
 * every field it selects, through fragments, whatever @skip/@include decide (a superset is
 * safe). A field that declares nothing, an ops field, or introspection makes it uncacheable.
 */
export function readSetOf(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>): ReadSet {
  if (operation.operation !== 'query') return { uncacheable: operation.operation };
  const root = schema.getQueryType();
  if (!root) return { uncacheable: 'no query type' };
  const names = new Set<string>();
  const why = walk(schema, root, operation.selectionSet, fragments, names, new Set());
  return why ? { uncacheable: why } : { reads: [...names].sort() };
}

function walk(
  schema: GraphQLSchema,
  parent: GraphQLCompositeType,
  set: SelectionSetNode,
  fragments: Record<string, FragmentDefinitionNode>,
  names: Set<string>,
  seen: Set<string>,
): string | null {
  for (const s of set.selections) {
    let why: string | null = null;
    if (s.kind === Kind.FIELD) {
      const name = s.name.value;
      if (name === '__typename') continue;
      if (name.startsWith('__')) return 'introspection';
      const field = isObjectType(parent) || isInterfaceType(parent) ? (parent.getFields()[name] as GraphQLField<unknown, unknown> | undefined) : undefined;
      if (!field) return `unknown field ${parent.name}.${name}`;
      const reads = field.extensions?.[READS_EXTENSION];
      if (reads === UNCACHEABLE) return `${parent.name}.${name} is not cacheable`;
      if (!Array.isArray(reads)) return `${parent.name}.${name} declares no reads`;
      for (const r of reads as string[]) names.add(r);
      if (s.selectionSet) why = walk(schema, getNamedType(field.type) as GraphQLCompositeType, s.selectionSet, fragments, names, seen);
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      const type = s.typeCondition ? (schema.getType(s.typeCondition.name.value) as GraphQLCompositeType | undefined) : parent;
      if (!type) return 'unknown type';
      why = walk(schema, type, s.selectionSet, fragments, names, seen);
    } else {
      const f = fragments[s.name.value];
      if (!f) return 'unknown fragment';
      if (seen.has(f.name.value)) continue;
      seen.add(f.name.value);
      const type = schema.getType(f.typeCondition.name.value) as GraphQLCompositeType | undefined;
      if (!type) return 'unknown type';
      why = walk(schema, type, f.selectionSet, fragments, names, seen);
    }
    if (why) return why;
  }
  return null;
}

/** What a mutation's root fields declare they write (modules/common/reads.ts Writes). */
export function writeSetOf(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>): string[] {
  const root = schema.getMutationType();
  if (operation.operation !== 'mutation' || !root) return [];
  const names = new Set<string>();
  const visit = (set: SelectionSetNode, seen: Set<string>) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        const writes = root.getFields()[s.name.value]?.extensions?.[WRITES_EXTENSION];
        if (Array.isArray(writes)) for (const w of writes as string[]) names.add(w);
      } else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet, seen);
      else if (fragments[s.name.value] && !seen.has(s.name.value)) {
        seen.add(s.name.value);
        visit(fragments[s.name.value].selectionSet, seen);
      }
    }
  };
  visit(operation.selectionSet, new Set());
  return [...names];
}

/** Memoised per parsed document (Apollo hands the same one to every request with the same text) and operation name. */
export class ReadSets {
  private readonly known = new WeakMap<DocumentNode, Map<string, ReadSet>>();

  constructor(private readonly schema: GraphQLSchema) {}

  of(document: DocumentNode, operation: OperationDefinitionNode): ReadSet {
    let byOp = this.known.get(document);
    if (!byOp) this.known.set(document, (byOp = new Map()));
    const key = operation.name?.value ?? '';
    let set = byOp.get(key);
    if (!set) byOp.set(key, (set = readSetOf(this.schema, operation, fragmentsOf(document))));
    return set;
  }
}

export function fragmentsOf(document: DocumentNode): Record<string, FragmentDefinitionNode> {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return fragments;
}
