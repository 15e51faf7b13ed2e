import { Arg, Ctx, Field, FieldResolver, Float, Int, ObjectType, Resolver, Root } from 'type-graphql';
import type { Context } from '../../../context';
import { BadUserInputError } from '../../../errors';
import { MAX_HISTORY, loadRefreshHistory, type ViewRefreshRecord } from './view-history';
import { MaterializedViewStatusType } from './view.types';
import { Uncacheable } from '../../common/reads';

@ObjectType('ViewRefreshRecord', { description: 'One past refresh of a materialized view, from the refresh log.' })
export class ViewRefreshRecordType implements ViewRefreshRecord {
  @Uncacheable()
  @Field({ description: 'When the refresh began: the view holds what was committed by then.' })
  startedAt!: Date;

  @Uncacheable()
  @Field({ description: 'When the refresh finished.' })
  refreshedAt!: Date;

  @Uncacheable()
  @Field(() => Float, { description: 'How long the refresh took, in milliseconds.' })
  durationMs!: number;

  @Uncacheable()
  @Field({ description: 'False when it ran without CONCURRENTLY.' })
  concurrently!: boolean;

  @Uncacheable()
  @Field(() => String, { description: 'What asked for it: mutation, schedule, freshness (the staleness bound), cli, seed, startup or migration.' })
  by!: ViewRefreshRecord['by'];
}

/** What the ops page shows beside each view's freshness: what it reads and its recent refreshes. */
@Resolver(() => MaterializedViewStatusType)
export class ViewHistoryResolver {
  @Uncacheable()
  @FieldResolver(() => [String], {
    description: 'Tables this view reads from, directly or through plain views, as schema.table.',
  })
  async sourceTables(@Root() view: MaterializedViewStatusType, @Ctx() ctx: Context): Promise<string[]> {
    return (await ctx.views.registry()).get(view.name)?.tables ?? [];
  }

  @Uncacheable()
  @FieldResolver(() => [ViewRefreshRecordType], {
    description: `Its newest refreshes from the refresh log, newest first (the log keeps 1,000 per view).
last: 0..${MAX_HISTORY}, else BAD_USER_INPUT.`,
    complexity: ({ args, childComplexity }) => 1 + childComplexity * Math.min(Math.max(Number(args.last) || 0, 0), MAX_HISTORY),
  })
  recentRefreshes(
    @Root() view: MaterializedViewStatusType,
    @Ctx() ctx: Context,
    @Arg('last', () => Int, { defaultValue: 20, description: 'How many refreshes, newest first.' }) last: number,
  ): Promise<ViewRefreshRecord[]> {
    if (last < 0 || last > MAX_HISTORY) throw new BadUserInputError(`last must be 0..${MAX_HISTORY}`, 'last');
    if (last === 0) return Promise.resolve([]);
    return loadRefreshHistory(ctx.loaders, ctx.sql, view.name, last);
  }
}
