import { Kind, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * What a client selects below a field, for a resolver that reads only the columns asked for.
 * Fragments (named and inline) are flattened whatever their type condition or @skip/@include:
 * the answer is a superset of what runs, so a column is never left out when it is read.
 */
export class Selection {
  #fields: Map<string, FieldNode[]> | undefined;

  private constructor(
    private readonly nodes: readonly FieldNode[],
    private readonly fragments: Record<string, FragmentDefinitionNode>,
  ) {}

  /** The selection below the resolver's own field (all of its occurrences, merged). */
  static of(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>): Selection {
    return new Selection(info.fieldNodes, info.fragments);
  }

  /** The fields selected by name, each with all of its occurrences. */
  fields(): Map<string, FieldNode[]> {
    if (this.#fields) return this.#fields;
    const out = (this.#fields = new Map<string, FieldNode[]>());
    const seen = new Set<string>();
    const visit = (set: SelectionSetNode | undefined) => {
      for (const s of set?.selections ?? []) {
        if (s.kind === Kind.FIELD) {
          const list = out.get(s.name.value);
          if (list) list.push(s);
          else out.set(s.name.value, [s]);
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          visit(s.selectionSet);
        } else if (!seen.has(s.name.value)) {
          seen.add(s.name.value);
          visit(this.fragments[s.name.value]?.selectionSet);
        }
      }
    };
    for (const node of this.nodes) visit(node.selectionSet);
    return out;
  }

  /** The selection below a selected field (empty when it is not selected). */
  below(name: string): Selection {
    return new Selection(this.fields().get(name) ?? [], this.fragments);
  }

  has(name: string): boolean {
    return this.fields().has(name);
  }
}
