import { expect } from 'vitest';
import { ItemsPageDocument, type GearItemFilter, type GearItemOrder, type ItemsPageQuery } from '../generated/graphql';
import type { ExecResult, TestApp } from './app';

/** Every page of `first` items from the start, in turn (`after` each endCursor), with what each page said. */
export async function walkForward(app: TestApp, filter: GearItemFilter | null, orderBy: GearItemOrder[] | null, first: number) {
  const ids: number[] = [];
  const pages: { size: number; hasNextPage: boolean; totalCount: number }[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const res: ExecResult<ItemsPageQuery> = await app.exec(ItemsPageDocument, { first, after, filter, orderBy });
    expect(res.errors).toBeUndefined();
    const page = res.data!.gearItems;
    ids.push(...page.edges.map((e) => Number(e.node.id)));
    pages.push({ size: page.edges.length, hasNextPage: page.pageInfo.hasNextPage, totalCount: page.totalCount });
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)?.cursor ?? null);
    if (!page.pageInfo.hasNextPage) return { ids, pages };
    after = page.pageInfo.endCursor!;
  }
  throw new Error('the walk did not end');
}
