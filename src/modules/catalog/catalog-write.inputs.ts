import { Field, ID, InputType, Int } from 'type-graphql';

export const MAX_REVIEW_BODY = 10_000;
/** Not in the contract: as much as a request body can carry, stated so that it is not a surprise. */
export const MAX_DESCRIPTION = 100_000;

@InputType({ description: 'Name: 1..200 characters after trimming. categoryId must exist.' })
export class CreateGearItemInput {
  @Field({ description: 'Display name: 1..200 characters after trimming.' })
  name!: string;

  @Field(() => String, { nullable: true, description: `Free text, at most ${MAX_DESCRIPTION.toLocaleString('en')} characters.` })
  description?: string | null;

  @Field(() => ID, { nullable: true, description: 'The category to file it under (must exist); omitted or null: none.' })
  categoryId?: string | null;
}

@InputType({ description: 'rating: 1..5. body: at most 10,000 characters. gearItemId must exist.' })
export class AddReviewInput {
  @Field(() => ID, { description: 'The item reviewed (must exist).' })
  gearItemId!: string;

  @Field(() => Int, { description: '1 to 5.' })
  rating!: number;

  @Field(() => String, { nullable: true, description: `Free text, at most ${MAX_REVIEW_BODY.toLocaleString('en')} characters.` })
  body?: string | null;
}
