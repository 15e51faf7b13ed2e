import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { GearItemConnectionResolver } from './modules/catalog/gear-item.type';
import { GearItemGenerationResolver, GearItemResolver } from './modules/catalog/gear-item.resolver';
import { NodeResolver } from './modules/nodes/node.resolver';
import { GearReviewConnectionResolver } from './modules/catalog/gear-review.type';
import { GearReviewResolver } from './modules/catalog/gear-review.resolver';
import { CategoryResolver, CategoryTreeNodeResolver } from './modules/categories/category.resolver';
import { CatalogMutationResolver } from './modules/catalog/catalog.mutations';
import { CategoryMutationResolver } from './modules/categories/category.mutations';
import { ViewResolver } from './modules/views/ops/view.resolver';
import { ViewHistoryResolver } from './modules/views/ops/view-history.resolver';
import { directFieldResolvers } from './direct-resolvers';

export const resolvers = [
  GearItemResolver,
  GearItemConnectionResolver,
  GearItemGenerationResolver,
  GearReviewResolver,
  GearReviewConnectionResolver,
  CategoryResolver,
  CategoryTreeNodeResolver,
  CatalogMutationResolver,
  CategoryMutationResolver,
  ViewResolver,
  NodeResolver,
  ViewHistoryResolver,
] as const;

export async function createSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({ resolvers, validate: false });
  directFieldResolvers(schema, resolvers);
  return schema;
}

/** The SDL committed as schema/schema.graphql: sorted, so that a diff shows real changes. */
export function printSortedSchema(schema: GraphQLSchema): string {
  return `# Generated from the code by \`npm run schema\`. Do not edit; a test fails when it drifts.\n\n${printSchema(lexicographicSortSchema(schema))}\n`;
}
