import { ApolloClient, ApolloLink, InMemoryCache } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { print } from 'graphql';
import { Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ItemsWindowDocument, type GearItemFilter, type GearItemOrder } from './generated/graphql';
import { createTestApp, type TestApp } from './support/app';
import { buildItemsModel, expectedOrder, type ItemsModel } from './support/items-data';

// Apollo Client 4 as a frontend would use it: relayStylePagination merging pages fetched
// forward (after) and backward (before) into one list, which must be the list's order as
// computed from the base tables. The link hands each operation to the test server.

let app: TestApp;
let model: ItemsModel;

beforeAll(async () => {
  app = await createTestApp();
  model = await buildItemsModel(app.sql);
});

afterAll(() => app?.close());

let sent = 0;

function client() {
  const link = new ApolloLink(
    (operation) =>
      new Observable((observer) => {
        sent++;
        app.exec(print(operation.query), operation.variables).then(
          ({ data, errors }) => {
            observer.next({ data: data as Record<string, unknown>, errors: errors as never });
            observer.complete();
          },
          (err: unknown) => observer.error(err),
        );
      }),
  );
  return new ApolloClient({
    link,
    cache: new InMemoryCache({ typePolicies: { Query: { fields: { gearItems: relayStylePagination(['filter', 'orderBy']) } } } }),
  });
}

const cases: [GearItemFilter | null, GearItemOrder[]][] = [
  [null, [{ field: 'REVIEW_RATING', direction: 'DESC' }]],
  [{ or: [{ reviewCount: { gte: 3 } }, { not: { reviewRating: { isNull: false } } }] }, [{ field: 'NAME', direction: 'ASC' }]],
];

type Vars = { first?: number; last?: number; after?: string | null; before?: string | null; filter: GearItemFilter | null; orderBy: GearItemOrder[] };
type PageInfo = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor?: string | null; endCursor?: string | null };

/** The first page, then the next one `step` asks for while it asks for one, merged by the cache: the merged list. */
async function mergePages(vars: Vars, step: (p: PageInfo) => Partial<Vars> | null) {
  const apollo = client();
  sent = 0;
  let res = await apollo.query({ query: ItemsWindowDocument, variables: vars });
  for (let guard = 0, next = step(res.data!.gearItems.pageInfo); next && guard < 20; guard++, next = step(res.data!.gearItems.pageInfo)) {
    res = await apollo.query({ query: ItemsWindowDocument, variables: { ...vars, ...next }, fetchPolicy: 'network-only' });
  }
  return apollo.readQuery({ query: ItemsWindowDocument, variables: vars })!.gearItems;
}

describe('Apollo Client relayStylePagination', () => {
  it('merges forward pages (after) into the whole list', async () => {
    for (const [filter, orderBy] of cases) {
      const want = expectedOrder(model, filter, orderBy).map((i) => String(i.id));
      const merged = await mergePages({ first: 4, filter, orderBy }, (p) => (p.hasNextPage ? { after: p.endCursor } : null));
      expect(merged.edges.map((e) => e.node.id)).toEqual(want);
      expect(sent).toBe(Math.ceil(want.length / 4));
    }
  });

  it('merges backward pages (last, before) into the whole list, first left at its default', async () => {
    for (const [filter, orderBy] of cases) {
      const want = expectedOrder(model, filter, orderBy).map((i) => String(i.id));
      const merged = await mergePages({ last: 3, filter, orderBy }, (p) => (p.hasPreviousPage ? { before: p.startCursor } : null));
      expect(merged.edges.map((e) => e.node.id)).toEqual(want);
      expect(merged.pageInfo.hasPreviousPage).toBe(false);
      expect(sent).toBe(Math.ceil(want.length / 3));
    }
  });
});
