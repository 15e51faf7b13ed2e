import express, { type Router } from 'express';
import { dirname, join } from 'node:path';
import { packageRoot } from '../package-root';

/** The files the explorer page loads, each from the npm package that ships it. */
function assetFiles(): Record<string, string> {
  const pkg = (name: string) => dirname(require.resolve(`${name}/package.json`));
  return {
    'graphiql.min.js': join(pkg('graphiql'), 'graphiql.min.js'),
    'graphiql.min.css': join(pkg('graphiql'), 'graphiql.min.css'),
    // GraphiQL 4's standalone build reads React from globals: React 18's UMD builds (19 has none).
    'react.production.min.js': join(pkg('react'), 'umd/react.production.min.js'),
    'react-dom.production.min.js': join(pkg('react-dom'), 'umd/react-dom.production.min.js'),
  };
}

/**
 * GraphiQL at GET /graphql for a browser (Accept: text/html), served by tally from npm
 * packages and our own page: no CDN, so it works offline and behind strict proxies.
 * Mounted outside production only (introspection is off there, so it could show nothing).
 */
export function explorerRouter(): Router {
  const router = express.Router();
  const ours = join(packageRoot(), 'src/http/explorer-page');
  const files = assetFiles();
  const cache = { maxAge: '1h' } as const;
  router.get('/graphql', (req, res, next) => {
    // A GraphQL GET (?query=…) or a client asking for JSON goes on to Apollo.
    if (req.query.query !== undefined || req.accepts(['application/json', 'text/html']) !== 'text/html') return next();
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(join(ours, 'index.html'));
  });
  for (const [name, file] of Object.entries(files)) router.get(`/explorer/${name}`, (_req, res) => res.sendFile(file, cache));
  router.use('/explorer', express.static(ours, { index: false }), (_req, res) => void res.status(404).type('text/plain').send('Not found\n'));
  return router;
}
