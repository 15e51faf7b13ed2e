import type express from 'express';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config';
import type { Logger } from '../logger';

/**
 * HTTP timeouts and a connection cap, set explicitly rather than left to Node's defaults:
 * a client gets `headersTimeoutMs` to send its headers and `requestTimeoutMs` for the whole
 * request; an idle keep-alive socket is closed after `keepAliveTimeoutMs`.
 */
export function applyHttpLimits(server: http.Server, limits: Config['http']): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // One address may not take every connection slot (slow bodies held for requestTimeout).
  // Behind a proxy every client has the proxy's address: set it to 0 there.
  if (limits.maxConnectionsPerAddress > 0) {
    const open = new Map<string, number>();
    server.on('connection', (socket) => {
      const address = socket.remoteAddress ?? '';
      const n = (open.get(address) ?? 0) + 1;
      if (n > limits.maxConnectionsPerAddress) {
        socket.destroy();
        return;
      }
      open.set(address, n);
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1;
        if (left > 0) open.set(address, left);
        else open.delete(address);
      });
    });
  }
}

/** Deepest JSON a request body may hold: real variables are a few levels deep. */
export const MAX_JSON_DEPTH = 32;

/** True when `value` nests deeper than `max` (iterative: a hostile body cannot overflow the stack). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  let visited = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    // The body is at most MAX_BODY_BYTES, so this walk is bounded; the count is a backstop.
    if (++visited > 1_000_000) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * True when a body (or a GET's `variables`/`extensions`, JSON in the query string, which
 * Apollo parses later) nests deeper than MAX_JSON_DEPTH: refused before GraphQL looks at it.
 */
export function nestsTooDeep(body: unknown, search: URLSearchParams | null): boolean {
  if (nestedDeeperThan(body, MAX_JSON_DEPTH)) return true;
  if (!search) return false;
  return ['variables', 'extensions'].some((k) => {
    const text = search.get(k);
    if (text === null) return false;
    try {
      return nestedDeeperThan(JSON.parse(text), MAX_JSON_DEPTH);
    } catch {
      return false;
    }
  });
}

/** A JSON error answer, as every route gives it (the bytes express's res.json would send). */
export function sendError(res: ServerResponse, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { ...extensions, code } }] });
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Ends the connection once the response is out, without reading the rest of the body: an
 * over-limit upload is cut at the limit rather than drained. The socket is half-closed first
 * (so the client reads the answer) and destroyed shortly after.
 */
export function closeAfterResponse(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  req.pause();
  res.once('finish', () => {
    req.socket.end();
    setTimeout(() => req.socket.destroy(), 1000).unref();
  });
}

/**
 * Refuses an over-limit body from its Content-Length, before a byte of it is read, and closes
 * the connection (body-parser would read it to the end before answering 413). A body without
 * a Content-Length (chunked) is refused with 411: every GraphQL client sends one, and with it
 * nothing past the limit is ever read. Compressed bodies are bounded the same way: what is
 * read is at most the limit, whatever it inflates to (body-parser caps the inflated size).
 * True when it answered.
 */
export function refuseBodyOverLimit(req: IncomingMessage, res: ServerResponse, maxBodyBytes: number): boolean {
  if (req.method !== 'POST') return false;
  const length = req.headers['content-length'];
  if (length === undefined) {
    if (req.headers['transfer-encoding'] === undefined) return false;
    closeAfterResponse(req, res);
    sendError(res, 411, 'BAD_USER_INPUT', 'A request body needs a Content-Length');
    return true;
  }
  if (Number(length) > maxBodyBytes) {
    closeAfterResponse(req, res);
    sendError(res, 413, 'BAD_USER_INPUT', `The request body is over ${maxBodyBytes} bytes`);
    return true;
  }
  return false;
}

/**
 * Errors met reading a body (too large, not JSON, bad encoding, a broken compressed body) as
 * JSON: a 4xx with a code for whatever the client caused, 500 only for ours. Any body error
 * closes the connection (see closeAfterResponse).
 */
export function answerHttpError(err: { type?: string; status?: number; statusCode?: number }, req: IncomingMessage, res: ServerResponse, maxBodyBytes: number, log: Logger): void {
  const status = err.status ?? err.statusCode ?? 500;
  if (res.headersSent) {
    req.socket.destroy();
    return;
  }
  if (status >= 400 && status < 500) closeAfterResponse(req, res);
  if (err.type === 'entity.too.large') {
    sendError(res, 413, 'BAD_USER_INPUT', `The request body is over ${maxBodyBytes} bytes`);
  } else if (err.type === 'entity.parse.failed') {
    sendError(res, 400, 'BAD_USER_INPUT', 'The request body is not valid JSON');
  } else if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    sendError(res, 415, 'BAD_USER_INPUT', 'The request body is in an encoding this server does not take');
  } else if (status >= 400 && status < 500) {
    // Aborted uploads, broken deflate/gzip streams, mismatched lengths: the client's.
    sendError(res, status, 'BAD_USER_INPUT', 'The request body could not be read');
  } else {
    log.error({ err }, 'unexpected HTTP error');
    sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  }
}

/** The same for the express routes (express's own error pages are HTML with a stack in development). */
export function httpErrorHandler(maxBodyBytes: number, log: Logger): express.ErrorRequestHandler {
  return (err: { type?: string; status?: number; statusCode?: number }, req, res, _next) => answerHttpError(err, req, res, maxBodyBytes, log);
}

/** Unknown routes: JSON, like every other answer. */
export const notFound: express.RequestHandler = (_req, res) => sendError(res, 404, 'NOT_FOUND', 'No such route');

/**
 * Readiness from a result at most `maxAgeMs` old: a burst of probes costs one `select 1` a
 * second at most, and probes arriving while it runs share it.
 */
export function readinessProbe(check: () => Promise<boolean>, maxAgeMs = 1000, timeoutMs = 2000): () => Promise<boolean> {
  let last: { ok: boolean; at: number } | null = null;
  let running: Promise<boolean> | null = null;
  return () => {
    if (last && performance.now() - last.at < maxAgeMs) return Promise.resolve(last.ok);
    running ??= Promise.race([
      check().catch(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
    ]).then((ok) => {
      last = { ok, at: performance.now() };
      running = null;
      return ok;
    });
    return running;
  };
}
