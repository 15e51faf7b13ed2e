import bodyParser from 'body-parser';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a body error carries: body-parser's `type` and status (http-errors), or ours alike. */
export interface BodyError {
  type?: string;
  status?: number;
}

/** What nearly every GraphQL client sends: UTF-8 JSON, not compressed. */
const PLAIN_JSON = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/**
 * A POST's JSON body, as body-parser's `json()` gives it (strict: an object or an array; an
 * empty body is `{}`; no body, or another content type, is undefined so that Apollo answers
 * it). The plain case (uncompressed UTF-8 JSON with a Content-Length, already checked against
 * the limit) is read here in a few lines; every other one (gzip/deflate/br bodies, other
 * charsets, other content types) goes through body-parser itself. Rejects with a BodyError.
 */
export function jsonBodyReader(maxBodyBytes: number): (req: IncomingMessage, res: ServerResponse) => Promise<unknown> {
  const general = bodyParser.json({ limit: maxBodyBytes });
  const viaBodyParser = (req: IncomingMessage & { body?: unknown }, res: ServerResponse) =>
    new Promise<unknown>((resolve, reject) => general(req, res, (err?: unknown) => (err ? reject(err as BodyError) : resolve(req.body))));

  return (req, res) => {
    const { headers } = req;
    const type = headers['content-type'];
    if (headers['content-encoding'] !== undefined || headers['content-length'] === undefined || type === undefined || !PLAIN_JSON.has(type.toLowerCase())) {
      return viaBodyParser(req, res);
    }
    return new Promise<unknown>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.once('error', () => reject({ type: 'request.aborted', status: 400 } satisfies BodyError));
      req.once('aborted', () => reject({ type: 'request.aborted', status: 400 } satisfies BodyError));
      req.once('end', () => {
        try {
          resolve(parseStrictJson(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
        } catch {
          reject({ type: 'entity.parse.failed', status: 400 } satisfies BodyError);
        }
      });
    });
  };
}

/** body-parser's strict JSON: empty is `{}`, else it must be an object or an array. A UTF-8 BOM is skipped. */
function parseStrictJson(bytes: Buffer): unknown {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const text = bytes.toString('utf8', bom);
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*(.|$)/s.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw new SyntaxError('not a JSON object or array');
  return JSON.parse(text);
}
