import cors from 'cors';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config';

/** Headers a browser client may send: JSON, the ops token, Apollo's CSRF header, our request id. */
const ALLOWED_HEADERS = ['content-type', 'authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'];

/**
 * CORS for /graphql from the CORS_ORIGINS allow-list. An allowed origin's preflight is
 * answered 204 with the Access-Control-* headers; any other origin gets no such header (its
 * preflight a bare 204), so the browser refuses the call. Apollo's CSRF prevention stays on:
 * a cross-origin request must still be JSON or carry `apollo-require-preflight`.
 * Returns false when it has answered (a preflight), true when the request goes on.
 */
export function corsHandler(config: Config['cors']): (req: IncomingMessage, res: ServerResponse) => boolean {
  const allowed = config.origins === '*' ? null : new Set(config.origins);
  const handler = cors({
    // A function rather than the list, so that an unknown origin is told nothing, not even
    // which origins are allowed.
    origin: (origin, done) => done(null, allowed === null ? (origin ? '*' : false) : origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: ['x-request-id'],
    credentials: config.credentials,
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
  return (req, res) => {
    // cors answers or calls back at once: the origin is decided synchronously above.
    let goOn = false;
    handler(req, res, (err?: unknown) => {
      if (err) throw err;
      goOn = true;
    });
    // cors passes a refused origin's preflight on; Apollo would answer it 400 as a bad GraphQL request.
    if (goOn && req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.end();
      return false;
    }
    return goOn;
  };
}
