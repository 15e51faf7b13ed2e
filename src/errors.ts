import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';

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

/**
 * PostgreSQL errors by SQLSTATE (and the pool's own failures) mapped to what a client may
 * see. Returns null for anything that is a bug on our side.
 */
export function mapDatabaseError(err: unknown): PublicError | null {
  const e = err as { code?: unknown; name?: string; message?: string } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin shutdown
    code === '57P02' || // crash shutdown
    code === '57P03' || // cannot connect now
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    e?.name === 'ConnectionException' ||
    /Timeout acquiring a connection|Connection terminated/i.test(e?.message ?? '')
  ) {
    return new PublicError('SERVICE_UNAVAILABLE', 'The database is unavailable; try again shortly');
  }
  if (code === '57014') return new PublicError('SERVICE_UNAVAILABLE', 'The query took too long and was cancelled');
  if (code === '40001' || code === '40P01') {
    return new PublicError('SERVICE_UNAVAILABLE', 'A conflicting change was in progress; try again');
  }
  return null;
}

/** True for errors that were thrown for the client to read. */
export function isPublicError(err: unknown): err is PublicError {
  return err instanceof PublicError;
}

/**
 * The one place errors become what clients see (Apollo's formatError). Public errors and
 * GraphQL's own parse/validation/coercion errors pass through; a database outage becomes
 * SERVICE_UNAVAILABLE; anything else becomes a generic message with the request id that
 * the server logged it under, so SQL, constraint names and stacks never leave.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
  if (original instanceof PublicError) {
    // `http` (status, headers) is for Apollo to apply to the response, not for the body.
    const { http: _http, ...extensions } = original.extensions;
    return { ...base, extensions };
  }
  if (original instanceof GraphQLError || original == null) {
    // Without a path it is about the request itself (parse, validation, variable coercion),
    // which Apollo does not always code: the client's to fix. With one, it is ours.
    const given = formatted.extensions?.code;
    const code = formatted.path ? (given ?? 'INTERNAL_SERVER_ERROR') : given && given !== 'INTERNAL_SERVER_ERROR' ? given : 'BAD_USER_INPUT';
    return { ...base, extensions: { code } };
  }
  const mapped = mapDatabaseError(original);
  if (mapped) return { ...base, message: mapped.message, extensions: { ...mapped.extensions } };
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: formatted.extensions?.requestId },
  };
}
