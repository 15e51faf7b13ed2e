import { Field, ID, InputType, registerEnumType } from 'type-graphql';
import { FloatFilter, IntFilter, OrderDirection } from '../common/filters';

@InputType({
  description:
    'Conditions on items; all given terms must hold (and, or, not included). Nesting: at most 5 levels of and/or/not, 50 terms in all, else BAD_USER_INPUT.',
})
export class GearItemFilter {
  @Field(() => ID, { nullable: true, description: 'Items directly in this category.' })
  categoryId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: 'Items in this category or any category below it (cached: category_tree).',
  })
  inCategory?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive substring of the name, taken literally (% and _ are plain characters).',
  })
  nameContains?: string | null;

  @Field(() => IntFilter, {
    nullable: true,
    description: 'Compares the cached count; an item with no row in gear_item_stats counts 0.',
  })
  reviewCount?: IntFilter | null;

  @Field(() => FloatFilter, {
    nullable: true,
    description: 'Compares the cached mean; comparisons never match a null rating; isNull selects by nullness.',
  })
  reviewRating?: FloatFilter | null;

  @Field(() => [GearItemFilter], { nullable: true, description: 'Every one of these filters holds (an empty list: no condition).' })
  and?: GearItemFilter[] | null;

  @Field(() => [GearItemFilter], { nullable: true, description: 'At least one of these filters holds (an empty list matches nothing).' })
  or?: GearItemFilter[] | null;

  @Field(() => GearItemFilter, {
    nullable: true,
    description: 'The items this filter does not match, exactly: an item without a rating is among them whatever the comparison.',
  })
  not?: GearItemFilter | null;
}

export enum GearItemOrderField {
  ID = 'ID',
  NAME = 'NAME',
  CREATED_AT = 'CREATED_AT',
  REVIEW_COUNT = 'REVIEW_COUNT',
  REVIEW_RATING = 'REVIEW_RATING',
}
registerEnumType(GearItemOrderField, {
  name: 'GearItemOrderField',
  description: 'What items can be sorted by.',
  valuesConfig: {
    REVIEW_COUNT: { description: 'The cached count (gear_item_stats).' },
    REVIEW_RATING: { description: 'The cached mean (gear_item_stats); nulls last either way.' },
  },
});

@InputType({ description: 'One sort term.' })
export class GearItemOrder {
  @Field(() => GearItemOrderField)
  field!: GearItemOrderField;

  @Field(() => OrderDirection, { nullable: true, defaultValue: OrderDirection.ASC })
  direction?: OrderDirection | null;
}
