import { Arg, Ctx, Mutation, Resolver, UseMiddleware } from 'type-graphql';
import type { Context } from '../../context';
import { sql } from '../../database/sql';
import { BadUserInputError, referenceMustExist } from '../../errors';
import { OpsOnly } from '../auth/ops-token';
import { checkText } from '../common/filters';
import { parseId, parseOptionalId } from '../common/ids';
import { checkName } from '../common/writes';
import { ITEM_COLUMNS, REVIEW_COLUMNS } from './catalog.loaders';
import { AddReviewInput, CreateGearItemInput, MAX_DESCRIPTION, MAX_REVIEW_BODY } from './catalog-write.inputs';
import { GearItemNode } from './gear-item.type';
import { GearReviewNode } from './gear-review.type';
import { READ_TABLES, Writes } from '../common/reads';

// Each write is one INSERT, after every field has been checked: an error writes nothing.
// The tables change at once; the cached aggregates at the next refresh of the views.

@Resolver()
export class CatalogMutationResolver {
  @Writes(READ_TABLES.item)
  @Mutation(() => GearItemNode, { description: 'Catalog admin: needs Authorization: Bearer <OPS_TOKEN>.' })
  @UseMiddleware(OpsOnly)
  async createGearItem(@Arg('input', () => CreateGearItemInput) input: CreateGearItemInput, @Ctx() ctx: Context): Promise<GearItemNode> {
    const name = checkName(input.name, 'input.name');
    const description = input.description == null ? null : checkText(input.description, 'input.description', MAX_DESCRIPTION);
    const categoryId = parseOptionalId(input.categoryId, 'input.categoryId');
    const item = await referenceMustExist(
      ctx.primary.one<GearItemNode>(
        sql.query`insert into gear_item as i (name, description, category_id)
                  values (${sql.value(name)}, ${sql.value(description)}, ${sql.value(categoryId)}) returning ${ITEM_COLUMNS}`,
      ),
      'input.categoryId',
      `category ${categoryId}`,
    );
    ctx.loaders.items.prime(item!.id, item);
    return item!;
  }

  @Writes(READ_TABLES.review)
  @Mutation(() => GearReviewNode, { description: 'Open to clients. The cached aggregates change only at the next refresh.' })
  async addReview(@Arg('input', () => AddReviewInput) input: AddReviewInput, @Ctx() ctx: Context): Promise<GearReviewNode> {
    const gearItemId = parseId(input.gearItemId, 'input.gearItemId');
    if (!Number.isInteger(input.rating) || input.rating < 1 || input.rating > 5) {
      throw new BadUserInputError('input.rating must be between 1 and 5', 'input.rating');
    }
    const body = input.body == null ? null : checkText(input.body, 'input.body', MAX_REVIEW_BODY);
    const review = await referenceMustExist(
      ctx.primary.one<GearReviewNode>(
        sql.query`insert into gear_review as r (gear_item_id, rating, body)
                  values (${sql.value(gearItemId)}, ${sql.value(input.rating)}, ${sql.value(body)}) returning ${REVIEW_COLUMNS}`,
      ),
      'input.gearItemId',
      `item ${gearItemId}`,
    );
    return review!;
  }
}
