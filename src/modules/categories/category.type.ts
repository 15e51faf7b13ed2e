import { Field, ID, Int, ObjectType } from 'type-graphql';
import { listCost } from '../../security/cost';
import { NodeInterface } from '../common/node';
import { READ_TABLES, READ_VIEWS, Reads } from '../common/reads';
import type { CategoryStatsRow } from '../views/reads';

@ObjectType('Category', { description: 'A node of the category tree.', implements: NodeInterface, simpleResolvers: true })
export class CategoryNode {
  @Reads(READ_TABLES.category)
  @Field(() => ID)
  id!: number;

  @Reads(READ_TABLES.category)
  @Field({ description: 'Display name.' })
  name!: string;

  /** Resolved to `parent` through the per-request category loader. */
  parentId!: number | null;

  /** The cached aggregates, when the query that found the category joined them already. */
  stats?: CategoryStatsRow;
}

@ObjectType('CategoryTreeNode', { description: 'One category in a flattened walk of the tree (category_tree, cached).', simpleResolvers: true })
export class CategoryTreeNodeType {
  @Reads(READ_VIEWS.categoryTree)
  @Field(() => ID, { description: "The category's id." })
  id!: number;

  @Reads(READ_VIEWS.categoryTree)
  @Field({ description: 'Name as of the last refresh of category_tree.' })
  name!: string;

  @Reads(READ_VIEWS.categoryTree)
  @Field(() => ID, { nullable: true, description: "The parent's id; null for a root category." })
  parentId!: number | null;

  @Reads(READ_VIEWS.categoryTree)
  @Field(() => Int, { description: '0 for a root category.' })
  depth!: number;

  @Reads(READ_VIEWS.categoryTree)
  @Field(() => [ID], {
    description: 'Ids from the root down to this category, itself included.',
    complexity: listCost((_args, b) => b.maxDepth + 1),
  })
  path!: string[];
}
