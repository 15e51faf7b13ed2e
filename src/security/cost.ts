import type { ComplexityEstimator, ComplexityEstimatorArgs } from 'graphql-query-complexity';
import { Kind, type FragmentDefinitionNode, type GraphQLObjectType, type GraphQLOutputType, type SelectionSetNode } from 'graphql';
import type { CostBounds } from './cost-bounds';

// The cost model: what a query can return, counted before it runs. Every field costs 1; a
// list field multiplies what is below it by the most elements it can return, declared next
// to the field (`complexity: listCost(...)`), from its arguments and the database's figures
// (CostBounds). Nested lists multiply. A count costs the rows it may count. See
// docs/security.md for the table of examples.

/** What the estimators are handed as graphql-query-complexity's `context`. */
export interface CostContext {
  bounds: CostBounds;
  /** Rows a count may touch per cost point (COST_COUNT_ROWS_PER_POINT). */
  countRowsPerPoint: number;
  fragments: Record<string, FragmentDefinitionNode>;
}

type Args = Record<string, unknown>;
const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);

function costContext(a: ComplexityEstimatorArgs): CostContext {
  return a.context as CostContext;
}

/**
 * A list field whose length is at most `bound(args, figures)`: 1, plus each element's cost
 * (1 for a scalar) times that bound (at least once, so a list that may be empty still pays
 * for its fields). Declared next to the field: `complexity: listCost((args, b) => …)`; a
 * future `nodes(ids:)` is `listCost((args) => args.ids.length)`.
 */
export function listCost(bound: (args: Args, b: CostBounds) => number): ComplexityEstimator {
  // A list of scalars has no child cost: each element counts 1.
  return (a) => 1 + Math.max(a.childComplexity, 1) * Math.max(1, Math.ceil(bound(a.args, costContext(a).bounds)));
}

/**
 * A connection page: its edges multiply by its size (clamped to `maxPage`): `first`
 * (`defaultFirst` when not given, as the schema says), or `last`; when the field also
 * writes `first` (refused at run time when both have values), the larger of the two. Each
 * `totalCount` below it is charged once (per alias), not once per edge.
 */
export function connectionCost(
  maxPage: number,
  defaultFirst: number,
  /**
   * Rows the page statement may have to read to fill a page, from its arguments: a filter
   * that no index serves walks the list until it has found enough rows (or all of it, when
   * few match). Charged like a count, once per page.
   */
  scanRows: (args: Args, b: CostBounds) => number = () => 0,
): ComplexityEstimator {
  return (a) => {
    const ctx = costContext(a);
    const first = num(a.args.first, defaultFirst);
    const writesFirst = a.node.arguments?.some((arg) => arg.name.value === 'first') ?? false;
    const last = typeof a.args.last === 'number' ? a.args.last : null;
    const size = Math.min(Math.max(last === null ? first : writesFirst ? Math.max(last, first) : last, 0), maxPage);
    const connection = unwrap(a.field.type) as GraphQLObjectType;
    const countRows = connection.getFields?.().totalCount?.extensions?.countRows as ((b: CostBounds) => number) | undefined;
    const counts = countRows && a.node.selectionSet ? countSelections(a.node.selectionSet, 'totalCount', ctx.fragments, new Set()) : 0;
    const countCost = counts * (countRows ? rowsToPoints(countRows(ctx.bounds), ctx.countRowsPerPoint) : 0);
    const rows = scanRows(a.args, ctx.bounds);
    const scanCost = rows > 0 ? rowsToPoints(rows, ctx.countRowsPerPoint) : 0;
    return 1 + scanCost + countCost + Math.max(size, 1) * Math.max(0, a.childComplexity - countCost);
  };
}

function unwrap(t: GraphQLOutputType): GraphQLOutputType {
  let x = t;
  while ('ofType' in x) x = x.ofType;
  return x;
}

const rowsToPoints = (rows: number, perPoint: number) => Math.max(1, Math.ceil(rows / perPoint));

/**
 * A count that may touch `rows(figures)` rows: 1 point per COST_COUNT_ROWS_PER_POINT rows.
 * The field also declares the same function as its `countRows` extension, so that the page
 * around it can tell a count's cost from the cost of its edges.
 */
export function countCost(rows: (b: CostBounds) => number): ComplexityEstimator {
  return (a) => rowsToPoints(rows(costContext(a).bounds), costContext(a).countRowsPerPoint);
}

/** How many fields named `name` a selection set asks for directly (through fragments too). */
function countSelections(set: SelectionSetNode, name: string, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>): number {
  let n = 0;
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      if (s.name.value === name) n++;
    } else if (s.kind === Kind.INLINE_FRAGMENT) {
      n += countSelections(s.selectionSet, name, fragments, seen);
    } else {
      const f = fragments[s.name.value];
      // Counted as often as graphql-query-complexity sums it; `seen` only guards a cycle.
      if (f && !seen.has(s.name.value)) {
        seen.add(s.name.value);
        n += countSelections(f.selectionSet, name, fragments, seen);
        seen.delete(s.name.value);
      }
    }
  }
  return n;
}
