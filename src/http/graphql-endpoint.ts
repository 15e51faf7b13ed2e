import { HeaderMap, type ApolloServer } from '@apollo/server';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cacheKeyOf, sendStored, type CacheCounters, type CacheTicket, type ResponseCache } from '../cache/response-cache';
import { createContext, type AppServices, type Context } from '../context';
import { hasOpsToken } from '../modules/auth/ops-token';
import { MAX_SAME_KEY, documentShapeCheck } from '../security/document-shape';
import { clientKeyOf, passRateLimitGate } from '../security/rate-limit';
import { corsHandler } from './cors';
import { MAX_JSON_DEPTH, answerHttpError, nestsTooDeep, refuseBodyOverLimit, sendError } from './hygiene';
import { jsonBodyReader } from './json-body';

export interface GraphqlEndpointOptions {
  /** Null when RESPONSE_CACHE=off. */
  responseCache: ResponseCache | null;
  cacheCounters: CacheCounters;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The client's x-request-id when it is a sane one, else a new one; echoed in the response. */
function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', requestId);
  return requestId;
}

/**
 * POST and GET /graphql on Node's own request and response, in the order a request meets
 * them: CORS, the rate-limit gate (before the body is read), the body's size, the body, its
 * nesting, a stored answer (docs/cache.md), the document's shape, then Apollo through its
 * integration API (executeHTTPGraphQLRequest). No web framework sits on this path: express
 * costed a fifth of the server's time per request here (docs/benchmark.md); it still serves
 * the other routes. Every answer, and every refusal's status, code and message, is what the
 * express stack gave.
 */
export function graphqlEndpoint(services: AppServices, apollo: ApolloServer<Context>, opts: GraphqlEndpointOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { config, log } = services;
  const limiter = services.rateLimiter;
  const { responseCache, cacheCounters } = opts;
  const maxBodyBytes = config.limits.maxBodyBytes;
  const cors = corsHandler(config.cors);
  const clientOf = clientKeyOf(config.rateLimit?.keyHeader, config.trustProxy);
  const readBody = jsonBodyReader(maxBodyBytes);
  const shapeProblem = documentShapeCheck({ maxTokens: config.limits.maxTokens, maxSameKey: MAX_SAME_KEY });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!cors(req, res)) return;
    const client = clientOf(req);
    // The ops token is exempt from rate limits; every other caller pays its base points first.
    if (limiter && !hasOpsToken(req.headers.authorization, config.opsToken) && !(await passRateLimitGate(limiter, client, res))) return;
    if (refuseBodyOverLimit(req, res, maxBodyBytes)) return;
    let body: unknown;
    if (req.method === 'POST') {
      try {
        body = await readBody(req, res);
      } catch (err) {
        return answerHttpError(err as { type?: string; status?: number }, req, res, maxBodyBytes, log);
      }
    }
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const search = q < 0 ? '' : url.slice(q);
    // A GET carries its query, variables and extensions in the query string (Apollo reads them again).
    const params = req.method === 'GET' && search ? new URLSearchParams(search) : null;
    if (nestsTooDeep(body, params)) return sendError(res, 400, 'BAD_USER_INPUT', `The request body nests deeper than ${MAX_JSON_DEPTH} levels`);

    let cacheTicket: CacheTicket | undefined;
    const key = responseCache ? cacheKeyOf(req, body) : null;
    if (responseCache && key !== null) {
      const entry = responseCache.get(key);
      // A hit is charged its stored cost; with the budget spent it goes through Apollo, which answers the usual 429.
      if (entry && (!limiter || (await limiter.reads.spend(client, entry.cost)) === 0)) {
        cacheCounters.hit();
        requestIdOf(req, res);
        // Its query passed the shape guard when it was stored.
        return sendStored(res, entry);
      }
      if (!entry) {
        cacheCounters.miss();
        cacheTicket = { key, storable: false };
      }
    }

    const problem = shapeProblem((body as { query?: unknown } | undefined)?.query ?? params?.get('query'));
    if (problem) return sendError(res, 400, 'GRAPHQL_VALIDATION_FAILED', problem);

    // Apollo reads a few of them (content type, accept, the CSRF headers); a loop over the
    // names makes no array of pairs.
    const headers = new HeaderMap();
    const given = req.headers;
    for (const name in given) {
      const value = given[name];
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method?.toUpperCase() ?? 'GET', headers, search, body },
      context: async () =>
        createContext(services, {
          requestId: requestIdOf(req, res),
          // Node keeps only the first of repeated Authorization headers; joined, they match no
          // bearer token, so an ambiguous request is refused rather than read one way.
          authorization: req.headersDistinct.authorization?.join(', '),
          client,
          cacheTicket,
        }),
    });
    for (const [name, value] of response.headers) res.setHeader(name, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'chunked') {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
      return;
    }
    // Text answers are UTF-8 and say so, as express's res.send made them.
    let contentType = res.getHeader('content-type');
    if (typeof contentType === 'string' && !/;\s*charset=/i.test(contentType)) res.setHeader('content-type', (contentType += '; charset=utf-8'));
    const bytes = Buffer.from(response.body.string);
    res.setHeader('content-length', bytes.length);
    res.end(req.method === 'HEAD' ? undefined : bytes);
    if (responseCache && cacheTicket?.storable && res.statusCode === 200 && cacheTicket.version && cacheTicket.reads) {
      responseCache.set(cacheTicket.key, {
        body: bytes,
        contentType: typeof contentType === 'string' ? contentType : 'application/json; charset=utf-8',
        reads: cacheTicket.reads,
        version: cacheTicket.version,
        cost: cacheTicket.cost ?? 0,
      });
    }
  }

  return (req, res) =>
    // What escapes is ours: logged, and answered 500 without a word of it (or the socket closed mid-answer).
    handle(req, res).catch((err: unknown) => answerHttpError(err as { status?: number }, req, res, maxBodyBytes, log));
}
