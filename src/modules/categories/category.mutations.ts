import { Arg, Ctx, Mutation, Resolver, UseMiddleware } from 'type-graphql';
import type { Context } from '../../context';
import { OpsOnly } from '../auth/ops-token';
import { parseOptionalId } from '../common/ids';
import { checkName, referenceMustExist } from '../common/writes';
import { CreateCategoryInput } from './category.inputs';
import { CategoryNode } from './category.type';

@Resolver()
export class CategoryMutationResolver {
  @Mutation(() => CategoryNode, { description: 'Catalog admin: needs Authorization: Bearer <OPS_TOKEN>.' })
  @UseMiddleware(OpsOnly)
  async createCategory(@Arg('input', () => CreateCategoryInput) input: CreateCategoryInput, @Ctx() ctx: Context): Promise<CategoryNode> {
    const name = checkName(input.name, 'input.name');
    const parentId = parseOptionalId(input.parentId, 'input.parentId');
    const row = await referenceMustExist(
      ctx.sql.one<CategoryNode>('insert into gear_category (name, parent_id) values ($1, $2) returning id, name, parent_id as "parentId"', [
        name,
        parentId,
      ]),
      'input.parentId',
      `category ${parentId}`,
    );
    ctx.loaders.categories.prime(row!.id, row);
    return row!;
  }
}
