import { Arg, Ctx, Mutation, Resolver, UseMiddleware } from 'type-graphql';
import type { Context } from '../../context';
import { OpsOnly } from '../auth/ops-token';
import { parseOptionalId } from '../common/ids';
import { sql } from '../../database/sql';
import { referenceMustExist } from '../../errors';
import { checkName } from '../common/writes';
import { CATEGORY_COLUMNS } from './categories.loaders';
import { CreateCategoryInput } from './category.inputs';
import { CategoryNode } from './category.type';
import { READ_TABLES, Writes } from '../common/reads';

@Resolver()
export class CategoryMutationResolver {
  @Writes(READ_TABLES.category)
  @Mutation(() => CategoryNode, { description: 'Catalog admin: needs Authorization: Bearer <OPS_TOKEN>.' })
  @UseMiddleware(OpsOnly)
  async createCategory(@Arg('input', () => CreateCategoryInput) input: CreateCategoryInput, @Ctx() ctx: Context): Promise<CategoryNode> {
    const name = checkName(input.name, 'input.name');
    const parentId = parseOptionalId(input.parentId, 'input.parentId');
    const row = await referenceMustExist(
      ctx.primary.one<CategoryNode>(
        sql.query`insert into gear_category as c (name, parent_id) values (${sql.value(name)}, ${sql.value(parentId)}) returning ${CATEGORY_COLUMNS}`,
      ),
      'input.parentId',
      `category ${parentId}`,
    );
    ctx.loaders.categories.prime(row!.id, row);
    return row!;
  }
}
