import { Field, Float, ObjectType } from 'type-graphql';

@ObjectType('MaterializedViewStatus', { description: 'How fresh one materialized view is.' })
export class MaterializedViewStatusType {
  @Field({ description: 'The view, as refreshViews takes it.' })
  name!: string;

  @Field(() => [String], { description: 'Materialized views that this one reads from, directly.' })
  dependsOn!: string[];

  @Field({ description: 'False when it holds no data (created or last refreshed WITH NO DATA); reading it then fails.' })
  populated!: boolean;

  @Field(() => Date, { nullable: true, description: 'When its last refresh finished; null when it was never refreshed.' })
  lastRefreshedAt!: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'When its last refresh began: it holds what was committed by then (a change after it makes the view stale).',
  })
  lastRefreshStartedAt!: Date | null;

  @Field(() => Float, { nullable: true, description: 'How long its last refresh took, in milliseconds.' })
  lastRefreshDurationMs!: number | null;

  @Field({
    description: `True when it has never been refreshed, or a table that it reads from (directly
or through other views) changed after its last refresh began.`,
  })
  stale!: boolean;
}

@ObjectType('ViewRefresh', { description: 'One view refreshed by refreshViews.' })
export class ViewRefreshType {
  @Field({ description: 'The view refreshed.' })
  name!: string;

  @Field({ description: 'False when the refresh ran without CONCURRENTLY.' })
  concurrently!: boolean;

  @Field(() => Float, { description: 'How long the refresh took, in milliseconds.' })
  durationMs!: number;

  @Field({ description: 'When the refresh finished.' })
  refreshedAt!: Date;
}

@ObjectType('RefreshViewsPayload', { description: 'What refreshViews did.' })
export class RefreshViewsPayload {
  @Field(() => [ViewRefreshType], { description: 'The refreshes, in the order they ran (each after the views it reads from).' })
  refreshed!: ViewRefreshType[];
}
