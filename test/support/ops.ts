import type { GraphQLFormattedError } from 'graphql';
import { expect } from 'vitest';
import type { TestSql as Sql } from './sql';

/** A row of view_refresh_log, times in microseconds (the column's precision). */
export interface LogRow {
  id: number;
  view: string;
  startedUs: number;
  finishedUs: number;
  concurrently: boolean;
  by: string;
}

export async function refreshLog(sql: Sql): Promise<LogRow[]> {
  const rows = await sql.rows<{ id: string; view: string; started: string; finished: string; concurrently: boolean; by: string }>(
    `select id, view_name as view, (extract(epoch from started_at) * 1e6)::bigint as started,
            (extract(epoch from finished_at) * 1e6)::bigint as finished, "concurrently", refreshed_by as by
       from view_refresh_log order by id`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    view: r.view,
    startedUs: Number(r.started),
    finishedUs: Number(r.finished),
    concurrently: r.concurrently,
    by: r.by,
  }));
}

/** No two refreshes of one view ran at the same time: each began after the one before it finished. */
export function expectNoOverlap(rows: LogRow[]): void {
  const byView = new Map<string, LogRow[]>();
  for (const r of rows) byView.set(r.view, [...(byView.get(r.view) ?? []), r]);
  for (const [view, runs] of byView) {
    const sorted = [...runs].sort((a, b) => a.startedUs - b.startedUs);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i].startedUs, `${view}: refresh ${sorted[i].id} began before ${sorted[i - 1].id} finished`).toBeGreaterThanOrEqual(
        sorted[i - 1].finishedUs,
      );
    }
  }
}

export function errorOf(errors: readonly GraphQLFormattedError[] | undefined) {
  expect(errors, 'expected an error').toBeDefined();
  const [e] = errors!;
  return { message: e.message, code: e.extensions?.code, field: e.extensions?.field, view: e.extensions?.view };
}
