import { Field, Float, Int, ObjectType } from 'type-graphql';
import { Uncacheable } from '../../common/reads';

@ObjectType('ViewRefreshFailure', { description: 'A refresh of a materialized view that failed (and was rolled back).' })
export class ViewRefreshFailureType {
  @Uncacheable()
  @Field({ description: 'What went wrong, as refreshViews would report it (no SQL).' })
  message!: string;

  @Uncacheable()
  @Field({ description: 'When the refresh failed.' })
  failedAt!: Date;
}

@ObjectType('MaterializedViewStatus', { description: 'How fresh one materialized view is.' })
export class MaterializedViewStatusType {
  @Uncacheable()
  @Field({ description: 'The view, as refreshViews takes it.' })
  name!: string;

  @Uncacheable()
  @Field(() => [String], { description: 'Materialized views that this one reads from, directly.' })
  dependsOn!: string[];

  @Uncacheable()
  @Field({ description: 'False when it holds no data (created or last refreshed WITH NO DATA); reading it then fails.' })
  populated!: boolean;

  @Uncacheable()
  @Field(() => Date, { nullable: true, description: 'When its last refresh finished; null when it was never refreshed.' })
  lastRefreshedAt!: Date | null;

  @Uncacheable()
  @Field(() => Date, {
    nullable: true,
    description: 'When its last refresh began: it holds what was committed by then (a change after it makes the view stale).',
  })
  lastRefreshStartedAt!: Date | null;

  @Uncacheable()
  @Field(() => Float, { nullable: true, description: 'How long its last refresh took, in milliseconds.' })
  lastRefreshDurationMs!: number | null;

  @Uncacheable()
  @Field({
    description: `True when it has never been refreshed, or a table that it reads from (directly
or through other views) changed after its last refresh began.`,
  })
  stale!: boolean;

  @Uncacheable()
  @Field(() => Date, {
    nullable: true,
    description: `When the earliest change that it has not seen was written (a write to a table it
reads, or a refresh of a view it reads); null when it is fresh. When no change
explains it (never refreshed, or holding no data), the time of this query.`,
  })
  staleSince!: Date | null;

  @Uncacheable()
  @Field(() => ViewRefreshFailureType, {
    nullable: true,
    description: 'Its last failed refresh, by any server; null when none failed since its last successful refresh.',
  })
  lastRefreshError!: ViewRefreshFailureType | null;

  @Uncacheable()
  @Field(() => Int, {
    nullable: true,
    description: `The staleness bound this server enforces (REFRESH_MAX_STALENESS_SECONDS): a change
is refreshed into the view within this many seconds plus the refresh time. Null
when this server enforces none.`,
  })
  maxStalenessSeconds!: number | null;
}

@ObjectType('ViewRefresh', { description: 'One view refreshed by refreshViews.' })
export class ViewRefreshType {
  @Uncacheable()
  @Field({ description: 'The view refreshed.' })
  name!: string;

  @Uncacheable()
  @Field({ description: 'False when the refresh ran without CONCURRENTLY.' })
  concurrently!: boolean;

  @Uncacheable()
  @Field(() => Float, { description: 'How long the refresh took, in milliseconds.' })
  durationMs!: number;

  @Uncacheable()
  @Field({ description: 'When the refresh finished.' })
  refreshedAt!: Date;
}

@ObjectType('RefreshViewsPayload', { description: 'What refreshViews did.' })
export class RefreshViewsPayload {
  @Uncacheable()
  @Field(() => [ViewRefreshType], { description: 'The refreshes, in the order they ran (each after the views it reads from).' })
  refreshed!: ViewRefreshType[];
}
