import { Arg, Ctx, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import type { Context } from '../../../context';
import { OpsOnly } from '../../auth/ops-token';
import { clearViewLoaders } from '../reads';
import { MaterializedViewStatusType, RefreshViewsPayload } from './view.types';
import { Uncacheable, Writes } from '../../common/reads';

@Resolver()
export class ViewResolver {
  @Uncacheable()
  @Query(() => [MaterializedViewStatusType], { description: 'Freshness of every materialized view that the server manages.' })
  materializedViews(@Ctx() ctx: Context): Promise<MaterializedViewStatusType[]> {
    // Read where the request's other reads go, so it describes the data they see.
    const bound = ctx.config.refresh.maxStalenessSeconds;
    return ctx.views.statuses(ctx.sql).then((all) => all.map((s) => ({ ...s, maxStalenessSeconds: bound })));
  }

  @Writes()
  @Mutation(() => RefreshViewsPayload, {
    description: `Ops: needs Authorization: Bearer <OPS_TOKEN> (missing: UNAUTHENTICATED;
wrong, or no OPS_TOKEN configured: FORBIDDEN).
Refreshes the named views (all when omitted) and every view that reads from
them, directly or through other views; each runs after the views it reads from.
An unknown name: BAD_USER_INPUT, and nothing is refreshed.
concurrently: readers are not blocked; a view never populated is refreshed
without CONCURRENTLY (its ViewRefresh says so).
The payload lists the refreshes in the order they ran.`,
  })
  @UseMiddleware(OpsOnly)
  async refreshViews(
    @Ctx() ctx: Context,
    @Arg('views', () => [String], { nullable: true }) views?: string[] | null,
    @Arg('concurrently', () => Boolean, { nullable: true, defaultValue: true }) concurrently?: boolean | null,
  ): Promise<RefreshViewsPayload> {
    try {
      return { refreshed: await ctx.views.refresh({ views, concurrently: concurrently ?? true }, 'mutation', ctx.log) };
    } finally {
      // Whatever this request read from the views before is out of date now (or may be).
      clearViewLoaders(ctx.loaders);
    }
  }
}
