import express, { type Router } from 'express';
import { join } from 'node:path';
import { packageRoot } from '../package-root';

/**
 * The freshness page for ops at /ops/: static files of ours (no framework, no CDN), which
 * read `materializedViews` from /graphql and call `refreshViews` with the token that the
 * person types in. Served in every mode: it holds no data itself, the queries it makes are
 * open, and refreshing needs OPS_TOKEN.
 */
export function opsPageRouter(): Router {
  const router = express.Router();
  const dir = join(packageRoot(), 'src/ops-page/static');
  router.use((req, res, next) => {
    // Relative URLs in the page (../graphql) need the trailing slash.
    if (req.method === 'GET' && req.path === '/' && !req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, `${req.baseUrl}/`);
    res.setHeader(
      'content-security-policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    );
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  });
  router.use(express.static(dir, { index: 'index.html', maxAge: 0 }));
  router.use((_req, res) => void res.status(404).type('text/plain').send('Not found\n'));
  return router;
}
