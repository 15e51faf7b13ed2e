import { Extensions, Field, FieldResolver, Int, ObjectType, Resolver, Root, type ClassType } from 'type-graphql';
import type { ComplexityEstimator } from 'graphql-query-complexity';
import { BadUserInputError } from '../../errors';
import type { CostBounds } from '../../security/cost-bounds';
import { connectionCost, countCost } from '../../security/cost';

export const MAX_PAGE_SIZE = 100;

@ObjectType({ description: 'Where a page ends, for forward pagination.' })
export class PageInfo {
  @Field({ description: 'True when more items follow this page.' })
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: "The last edge's cursor; null on an empty page." })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** What a list resolver returns: one page, and how to count the whole list if asked. */
export interface Page<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  /** Run only when a client selects totalCount. */
  countAll: () => Promise<number>;
}

/**
 * The Edge and Connection object types for a node type, and the resolver of totalCount,
 * which runs Page.countAll only when a client selects it: a page alone costs no count query.
 * Both classes must be listed in the schema.
 */
export function connectionTypes<T extends object>(
  node: ClassType<T>,
  name: string,
  totalCountDescription: string,
  /** The most rows totalCount may count: what it costs (see security/cost.ts). */
  countRows: (b: CostBounds) => number,
) {
  @ObjectType(`${name}Edge`, { description: `One ${name} in a page.` })
  class EdgeType {
    @Field({ description: 'Pass as `after` to get what follows this edge.' })
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionType {
    @Field(() => [EdgeType], { description: 'This page, in order.' })
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }

  @Resolver(() => ConnectionType)
  class ConnectionResolver {
    @FieldResolver(() => Int, { description: totalCountDescription, complexity: countCost(countRows) })
    @Extensions({ countRows })
    totalCount(@Root() page: Page<T>): Promise<number> {
      return page.countAll();
    }
  }
  return { ConnectionType, ConnectionResolver };
}

/** `first` in 0..100, else BAD_USER_INPUT naming the argument. */
export function checkFirst(first: number, field = 'first'): number {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`${field} must be between 0 and ${MAX_PAGE_SIZE}`, field);
  }
  return first;
}

/**
 * Builds a page from up to first+1 rows fetched in order. Cursors are signed only when a
 * client selects one (a getter), so a page that asks for none pays for no HMAC.
 */
export function toPage<R, T>(
  rows: R[],
  first: number,
  toNode: (row: R) => T,
  cursorOf: (row: R) => string,
  countAll: () => Promise<number>,
): Page<T> {
  const hasNextPage = rows.length > first;
  const kept = hasNextPage ? rows.slice(0, first) : rows;
  const edges = kept.map((row) => lazyEdge(toNode(row), () => cursorOf(row)));
  return {
    edges,
    pageInfo: {
      hasNextPage,
      get endCursor() {
        return edges.length ? edges[edges.length - 1].cursor : null;
      },
    },
    countAll,
  };
}

function lazyEdge<T>(node: T, sign: () => string): Edge<T> {
  let cursor: string | undefined;
  return {
    node,
    get cursor() {
      return (cursor ??= sign());
    },
  };
}

/**
 * Query cost of a connection field: what one edge costs times the page size asked for
 * (clamped to what checkFirst accepts; out-of-range sizes get their own error), plus each
 * totalCount once, plus one.
 */
export const pageComplexity: ComplexityEstimator = connectionCost(MAX_PAGE_SIZE);
