import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';

// The one place that decides what an error means to a client: the error types thrown for
// clients, which errors are the client's, the SQLSTATE map, and what a response may show.

export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'SERVICE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'REQUEST_TIMEOUT'
  | 'RESPONSE_TOO_LARGE'
  | 'INTERNAL_SERVER_ERROR';

/** An error the client caused or may act on; its message is safe to show. */
export class PublicError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { ...extensions, code } });
  }
}

export class BadUserInputError extends PublicError {
  /** `field` names the argument or input field at fault, e.g. "input.rating". */
  constructor(message: string, field?: string) {
    super('BAD_USER_INPUT', message, field ? { field } : {});
  }
}

export class UnauthenticatedError extends PublicError {
  constructor(message = 'Authorization: Bearer <token> is required') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends PublicError {
  constructor(message = 'This token may not do that') {
    super('FORBIDDEN', message);
  }
}

/** A refresh run that failed; nothing of it was committed. `view` is where it failed. */
export class ViewRefreshError extends Error {
  constructor(
    readonly view: string,
    readonly phase: 'lock' | 'refresh',
    readonly timeoutMs: number,
    readonly cause: unknown,
  ) {
    super(`refresh of ${view} failed while ${phase === 'lock' ? 'waiting for its lock' : 'refreshing'}`);
    this.name = 'ViewRefreshError';
  }
}

/** The SQLSTATEs tally acts on, by PostgreSQL's condition names. */
const SQLSTATE = {
  foreign_key_violation: '23503',
  query_canceled: '57014', // statement_timeout, or a cancel
  admin_shutdown: '57P01',
  crash_shutdown: '57P02',
  cannot_connect_now: '57P03',
  serialization_failure: '40001',
  deadlock_detected: '40P01',
  database_dropped: '57P04',
} as const;

function sqlStateOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : '';
}

/** True when `err` is PostgreSQL's error of that condition. */
export function isSqlState(err: unknown, condition: keyof typeof SQLSTATE): boolean {
  return sqlStateOf(err) === SQLSTATE[condition];
}

/**
 * PostgreSQL errors by SQLSTATE (and the pool's own failures) mapped to what a client may
 * see. Returns null for anything that is a bug on our side.
 */
export function mapDatabaseError(err: unknown): PublicError | null {
  const code = sqlStateOf(err);
  if (isUnavailable(err)) {
    return new PublicError('SERVICE_UNAVAILABLE', 'The database is unavailable; try again shortly');
  }
  if (code === SQLSTATE.query_canceled) return new PublicError('SERVICE_UNAVAILABLE', 'The query took too long and was cancelled');
  if (code === SQLSTATE.serialization_failure || code === SQLSTATE.deadlock_detected || code === SQLSTATE.database_dropped) {
    return new PublicError('SERVICE_UNAVAILABLE', 'A conflicting change was in progress; try again');
  }
  return null;
}

/** The server is gone, going, not yet up, or unreachable (or the pool gave up waiting for it). */
function isUnavailable(err: unknown): boolean {
  const code = sqlStateOf(err);
  const message = (err as { message?: unknown } | undefined)?.message;
  return (
    code.startsWith('08') || // connection exception
    code === SQLSTATE.admin_shutdown ||
    code === SQLSTATE.crash_shutdown ||
    code === SQLSTATE.cannot_connect_now ||
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    // node-postgres' pool and client, when the server is gone or the pool is exhausted.
    /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Connection ended unexpectedly/i.test(
      typeof message === 'string' ? message : '',
    )
  );
}

/**
 * Why a read that failed on a hot standby may be sent once more, elsewhere (reads are
 * idempotent), or null when it would fail anywhere, or is a timeout that a second try
 * would only double.
 *
 * 'conflict': the standby cancelled it to go on replaying WAL ("canceling statement due to
 * conflict with recovery"): PostgreSQL 15 reports 40001 (serialization_failure) for a lock,
 * snapshot, buffer-pin, tablespace or startup-deadlock conflict and 57P04 when the
 * statement's database was dropped; when the cancel finds the session idle or in a
 * transaction, the same codes come as FATAL ("terminating connection ...") with the
 * connection closed. A read-only query gets 40001 or 40P01 for no other reason, so 40P01
 * is treated alike (test/replicas.test.ts sees the codes on a real standby).
 * 'busy': no connection of the standby's pool came free in time (the standby may be fine).
 * 'unavailable': the standby is down, shutting down, restarting or unreachable.
 */
export function replicaReadFailure(err: unknown): 'conflict' | 'busy' | 'unavailable' | null {
  const code = sqlStateOf(err);
  if (code === SQLSTATE.serialization_failure || code === SQLSTATE.deadlock_detected || code === SQLSTATE.database_dropped) return 'conflict';
  const message = (err as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string' && POOL_ACQUIRE_TIMEOUT.test(message)) return 'busy';
  return isUnavailable(err) ? 'unavailable' : null;
}

/** node-postgres' pool, when no connection came free (or could be made) within its timeout. */
const POOL_ACQUIRE_TIMEOUT = /timeout exceeded when trying to connect/i;

/** What the client (or the CLI's user) is told of a failed refresh: which view, why, and that nothing changed. */
export function refreshErrorToPublic(err: ViewRefreshError): PublicError {
  const sqlState = sqlStateOf(err.cause) || undefined;
  const unchanged = 'Nothing was refreshed; every view keeps its previous contents.';
  const view = { view: err.view };
  if (sqlState === SQLSTATE.query_canceled && err.phase === 'lock') {
    return new PublicError(
      'SERVICE_UNAVAILABLE',
      `Another refresh of ${err.view} was still running after ${err.timeoutMs} ms. ${unchanged} Try again later.`,
      view,
    );
  }
  if (sqlState === SQLSTATE.query_canceled) {
    return new PublicError(
      'SERVICE_UNAVAILABLE',
      `Refreshing ${err.view} took longer than ${err.timeoutMs} ms (the refresh statement timeout) and was cancelled. ${unchanged}`,
      view,
    );
  }
  if (mapDatabaseError(err.cause)) {
    return new PublicError('SERVICE_UNAVAILABLE', `Refreshing ${err.view} failed: the database is unavailable. ${unchanged}`, view);
  }
  return new PublicError(
    'INTERNAL_SERVER_ERROR',
    `Refreshing ${err.view} failed${sqlState ? ` (SQLSTATE ${sqlState})` : ''}. ${unchanged} The server log has the details.`,
    { ...view, ...(sqlState ? { sqlState } : {}) },
  );
}

/**
 * Runs a one-statement write whose only foreign key is the id the client gave as `field`:
 * when that row does not exist, nothing was written and the client is told which field is
 * wrong. Checking first would race with a concurrent delete.
 */
export async function referenceMustExist<T>(write: Promise<T>, field: string, what: string): Promise<T> {
  try {
    return await write;
  } catch (err) {
    if (isSqlState(err, 'foreign_key_violation')) throw new BadUserInputError(`${field}: there is no ${what}`, field);
    throw err;
  }
}

/** The public form of an error thrown while resolving, when it has one. */
function publicFormOf(original: unknown): PublicError | null {
  if (original instanceof PublicError) return original;
  if (original instanceof ViewRefreshError) return refreshErrorToPublic(original);
  return mapDatabaseError(original);
}

/**
 * What an error in a response calls for: nothing ('public': the client's own doing, i.e.
 * public errors and GraphQL's parse/validation/coercion errors, which have no path; or a
 * failed refresh, which the refresher logged), a warning ('unavailable': the database is
 * down or slow), or a log line with the request id ('bug').
 */
export function classifyError(error: GraphQLError): 'public' | 'unavailable' | 'bug' {
  const original = unwrapResolverError(error);
  if (original instanceof PublicError || original instanceof ViewRefreshError || original == null) return 'public';
  if (original instanceof GraphQLError && !error.path) return 'public';
  return mapDatabaseError(original) ? 'unavailable' : 'bug';
}

/**
 * The one place errors become what clients see (Apollo's formatError). Public errors and
 * GraphQL's own parse/validation/coercion errors pass through; a database outage becomes
 * SERVICE_UNAVAILABLE; anything else becomes a generic message with the request id that
 * the server logged it under, so SQL, constraint names and stacks never leave.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  return formatErrorFor(formatted, error, false);
}

/**
 * formatError for production: graphql-js's "Did you mean …?" suggestions (which Apollo
 * hides from validation errors only, not from variable coercion) would list the schema that
 * introspection hides.
 */
export function formatErrorHidingSchema(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  return formatErrorFor(formatted, error, true);
}

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

function formatErrorFor(formatted: GraphQLFormattedError, error: unknown, hideSchema: boolean): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
  const known = publicFormOf(original);
  if (known) {
    // `http` (status, headers) is for Apollo to apply to the response, not for the body.
    const { http: _http, ...extensions } = known.extensions;
    return { ...base, message: known.message, extensions };
  }
  if (original instanceof GraphQLError || original == null) {
    // Without a path it is about the request itself (parse, validation, variable coercion),
    // which Apollo does not always code: the client's to fix. With one, it is ours.
    const given = formatted.extensions?.code;
    const code = formatted.path ? (given ?? 'INTERNAL_SERVER_ERROR') : given && given !== 'INTERNAL_SERVER_ERROR' ? given : 'BAD_USER_INPUT';
    return { ...base, message: hideSchema ? base.message.replace(SUGGESTION, '') : base.message, extensions: { code } };
  }
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: formatted.extensions?.requestId },
  };
}
