import { Field, ID, InputType } from 'type-graphql';

@InputType({ description: 'Name: 1..200 characters after trimming. parentId must exist.' })
export class CreateCategoryInput {
  @Field({ description: 'Display name: 1..200 characters after trimming.' })
  name!: string;

  @Field(() => ID, { nullable: true, description: 'The parent category (must exist); omitted or null: a root category.' })
  parentId?: string | null;
}
