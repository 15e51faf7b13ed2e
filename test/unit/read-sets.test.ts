import { getNamedType, isInterfaceType, isObjectType, parse, type GraphQLNamedType, type OperationDefinitionNode } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { fragmentsOf, readSetOf } from '../../src/cache/read-set';
import { READS_EXTENSION, UNCACHEABLE } from '../../src/modules/common/reads';
import { createSchema } from '../../src/schema';

let schema: Awaited<ReturnType<typeof createSchema>>;
beforeAll(async () => {
  schema = await createSchema();
});

const readsOf = (query: string) => {
  const doc = parse(query);
  return readSetOf(schema, doc.definitions.find((d) => d.kind === 'OperationDefinition') as OperationDefinitionNode, fragmentsOf(doc));
};

describe('read sets', () => {
  it('every field of Query and of every type reachable from it declares what it reads', () => {
    const missing: string[] = [];
    const seen = new Set<string>();
    const visit = (type: GraphQLNamedType) => {
      if (seen.has(type.name) || !(isObjectType(type) || isInterfaceType(type))) return;
      seen.add(type.name);
      const more: GraphQLNamedType[] = isInterfaceType(type) ? [...schema.getPossibleTypes(type)] : [...type.getInterfaces()];
      for (const field of Object.values(type.getFields())) {
        const reads = field.extensions?.[READS_EXTENSION];
        if (reads !== UNCACHEABLE && !Array.isArray(reads)) missing.push(`${type.name}.${field.name}`);
        more.push(getNamedType(field.type));
      }
      more.forEach(visit);
    };
    visit(schema.getQueryType()!);
    expect(seen.size).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });

  it('a page of aggregates reads the view, not gear_review; one with reviews reads gear_review', () => {
    expect(readsOf('{ gearItems(first: 5) { edges { node { name reviewCount } } } }')).toEqual({
      reads: ['category_tree', 'gear_item_stats', 'public.gear_item'],
    });
    const withReviews = readsOf('query Q { ...F } fragment F on Query { gearItem(id: 1) { ... on GearItem { reviews { edges { node { rating } } } } } }');
    expect(withReviews).toEqual({ reads: ['public.gear_item', 'public.gear_review'] });
  });

  it('ops fields, introspection and mutations are never cacheable', () => {
    expect(readsOf('{ materializedViews { name } }')).toHaveProperty('uncacheable');
    expect(readsOf('{ __schema { queryType { name } } }')).toHaveProperty('uncacheable');
    expect(readsOf('mutation { addReview(input: {gearItemId: 1, rating: 5}) { id } }')).toHaveProperty('uncacheable');
    expect(readsOf('{ categoryTree { name category { itemCount } } }')).toEqual({
      reads: ['category_stats', 'category_tree', 'public.gear_category'],
    });
  });
});
