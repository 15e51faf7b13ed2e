import { Kind, type GraphQLResolveInfo } from 'graphql';
import { Extensions, Field, FieldResolver, Int, ObjectType, Resolver, Root, type ClassType } from 'type-graphql';
import type { ComplexityEstimator } from 'graphql-query-complexity';
import { BadUserInputError } from '../../errors';
import type { CostBounds } from '../../security/cost-bounds';
import { connectionCost, countCost } from '../../security/cost';
import { Reads } from './reads';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 20;

@ObjectType({ description: 'Where a page starts and ends (the four fields of the Relay cursor connections spec).', simpleResolvers: true })
export class PageInfo {
  @Reads()
  @Field({
    description:
      'True when more items follow this page. Paging backward (last/before), true when `before` was given: the edge it came from, or one after it, exists.',
  })
  hasNextPage!: boolean;

  @Reads()
  @Field(() => String, { nullable: true, description: "The last edge's cursor; null on an empty page." })
  endCursor!: string | null;

  @Reads()
  @Field({
    description:
      'True when items come before this page. Paging backward (last), exact; paging forward (first/after), true when `after` was given (the Relay spec allows this cheap answer).',
  })
  hasPreviousPage!: boolean;

  @Reads()
  @Field(() => String, { nullable: true, description: "The first edge's cursor; null on an empty page." })
  startCursor!: string | null;
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
  /** What totalCount reads (common/reads.ts): the same as the list field. */
  totalCountReads: string[],
) {
  @ObjectType(`${name}Edge`, { description: `One ${name} in a page.`, simpleResolvers: true })
  class EdgeType {
    @Reads()
    @Field({ description: 'Pass as `after` to get what follows this edge, or as `before` to get what precedes it.' })
    cursor!: string;

    @Reads()
    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.`, simpleResolvers: true })
  class ConnectionType {
    @Reads()
    @Field(() => [EdgeType], { description: 'This page, in order.' })
    edges!: EdgeType[];

    @Reads()
    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }

  @Resolver(() => ConnectionType)
  class ConnectionResolver {
    @Reads(...totalCountReads)
    @FieldResolver(() => Int, { description: totalCountDescription, complexity: countCost(countRows) })
    @Extensions({ countRows })
    totalCount(@Root() page: Page<T>): Promise<number> {
      return page.countAll();
    }
  }
  return { ConnectionType, ConnectionResolver };
}

/** `first` (or `last`) in 0..100, else BAD_USER_INPUT naming the argument. */
export function checkFirst(first: number, field = 'first'): number {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`${field} must be between 0 and ${MAX_PAGE_SIZE}`, field);
  }
  return first;
}

/**
 * True when the client wrote the argument itself, with a value: a literal other than null,
 * or a variable that the request provides (not null). The contract gives `first` a default,
 * so its value alone cannot tell "first: 20" from nothing said.
 */
export function argGiven(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'variableValues'>, name: string): boolean {
  const arg = info.fieldNodes[0]?.arguments?.find((a) => a.name.value === name);
  if (!arg || arg.value.kind === Kind.NULL) return false;
  if (arg.value.kind === Kind.VARIABLE) return info.variableValues[arg.value.name.value] != null;
  return true;
}

/** The connection arguments as the resolver receives them. */
export interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

/**
 * What a page asks, checked: forward, the first `size` rows after `after`; backward (`last`
 * given), the last `size` rows before `before`. `after` and `before` together bound a window
 * between them in either direction (the Relay spec's algorithm).
 */
export interface PageRequest {
  backward: boolean;
  size: number;
  after: string | null;
  before: string | null;
}

/** `first` and `last` both given explicitly: BAD_USER_INPUT; `last` alone pages backward with `first` at its default. */
export function pageRequest(args: PageArgs, info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'variableValues'>): PageRequest {
  const after = args.after ?? null;
  const before = args.before ?? null;
  if (args.last != null) {
    if (argGiven(info, 'first')) throw new BadUserInputError('first and last cannot both be given: first pages forward, last backward', 'last');
    return { backward: true, size: checkFirst(args.last, 'last'), after, before };
  }
  return { backward: false, size: checkFirst(args.first ?? DEFAULT_PAGE_SIZE, 'first'), after, before };
}

/**
 * Builds a page from up to size+1 rows fetched in the direction asked (backward: nearest to
 * `before` first; they are put back in order here). Cursors are signed only when a client
 * selects one (a getter), so a page that asks for none pays for no HMAC.
 */
export function toPage<R, T>(
  rows: R[],
  req: PageRequest,
  toNode: (row: R) => T,
  cursorOf: (row: R) => string,
  countAll: () => Promise<number>,
): Page<T> {
  const more = rows.length > req.size;
  // Reversed on a copy: the rows may be a loader's cached array.
  const kept = more ? rows.slice(0, req.size) : req.backward ? rows.slice() : rows;
  if (req.backward) kept.reverse();
  const edges: Edge<T>[] = kept.map((row) => new LazyEdge(toNode(row), row, cursorOf));
  return {
    edges,
    pageInfo: {
      hasNextPage: req.backward ? req.before !== null : more,
      hasPreviousPage: req.backward ? more : req.after !== null,
      get endCursor() {
        return edges.length ? edges[edges.length - 1].cursor : null;
      },
      get startCursor() {
        return edges.length ? edges[0].cursor : null;
      },
    },
    countAll,
  };
}

/**
 * An edge whose cursor is signed when first read. A class: the getter lives once on the
 * prototype, where an object literal with a getter would allocate a closure per edge.
 */
class LazyEdge<R, T> implements Edge<T> {
  #cursor: string | undefined;

  constructor(
    readonly node: T,
    private readonly row: R,
    private readonly sign: (row: R) => string,
  ) {}

  get cursor(): string {
    return (this.#cursor ??= this.sign(this.row));
  }
}

/**
 * Query cost of a connection field: what one edge costs times the page size asked for
 * (`first` or `last`, clamped to what checkFirst accepts; out-of-range sizes get their own
 * error), plus each totalCount once, plus one (see security/cost.ts).
 */
export const pageComplexity: ComplexityEstimator = connectionCost(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);

/** The same, for a page whose filter may make its statement read up to `scanRows` rows. */
export const filteredPageComplexity = (scanRows: Parameters<typeof connectionCost>[2]): ComplexityEstimator =>
  connectionCost(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, scanRows);
