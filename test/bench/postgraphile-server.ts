import http from 'node:http';
import { V4_OPTIONS, VIEW_SMART_TAGS, postgraphileSettings } from './postgraphile-common';

/**
 * PostGraphile 4 over the benchmark database, configured as its documentation recommends for
 * production, plus what the same page needs: nulls last in orderBy, the connection-filter
 * plugin for the comparisons, and smart tags giving the views their primary keys and
 * relations (from a plugin rather than smart comments on the views: tally keeps each view's
 * definition version in its comment). It is loaded from test/bench/postgraphile/, its own
 * install: PostGraphile 4 needs graphql 15 in a single copy, and tally's tree holds graphql 16.
 *
 *   BENCH_DATABASE_URL=… BENCH_PORT=… BENCH_POSTGRAPHILE_DIR=test/bench/postgraphile node dist/test/bench/postgraphile-server.js
 */
const { url: namedUrl, port, load } = postgraphileSettings('bench-postgraphile');

const { postgraphile } = load('postgraphile');
const ConnectionFilterPlugin = load('postgraphile-plugin-connection-filter');
const { makeJSONPgSmartTagsPlugin } = load('graphile-utils');
const ViewKeysPlugin = makeJSONPgSmartTagsPlugin(VIEW_SMART_TAGS);
const middleware = postgraphile(namedUrl, 'public', {
  ...V4_OPTIONS,
  appendPlugins: [ConnectionFilterPlugin, ViewKeysPlugin],
  watchPg: false,
  retryOnInitFail: false,
});
const server = http.createServer(middleware);
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void middleware.release().then(() => process.exit(0));
});
