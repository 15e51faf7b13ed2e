import http from 'node:http';
import { V4_OPTIONS, VIEW_SMART_TAGS, postgraphileSettings } from './postgraphile-common';

/**
 * PostGraphile 5.1.5 (Grafast) over the benchmark database, as a user moving from 4 would run
 * it: the V4-compatible preset (makeV4Preset) with the same options as the 4.14 server (nulls
 * last in orderBy, no mutations, no subscriptions), postgraphile-plugin-connection-filter's
 * preset for the comparisons, and the same smart tags giving the views their primary keys and
 * relations. So it answers the very queries the 4.14 server does (queries.ts
 * postgraphileQuery). Loaded from test/bench/postgraphile5/, its own install: Grafast brings
 * pg-sql2 5 and its own graphql, which must not mix with tally's tree.
 *
 *   BENCH_DATABASE_URL=… BENCH_PORT=… BENCH_POSTGRAPHILE_DIR=test/bench/postgraphile5 node dist/test/bench/postgraphile5-server.js
 */
const { url: namedUrl, port, load } = postgraphileSettings('bench-postgraphile5');

// PostGraphile 5 asks for Node 22 (it uses Promise.withResolvers); the bench runs on Node 20.
// The polyfill is the specification's algorithm, nothing more.
const P = Promise as unknown as { withResolvers?: () => unknown };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (v: T | PromiseLike<T>) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { postgraphile } = load('postgraphile');
const { makeV4Preset } = load('postgraphile/presets/v4');
const { makePgService } = load('postgraphile/adaptors/pg');
const { grafserv } = load('postgraphile/grafserv/node');
const { makeJSONPgSmartTagsPlugin } = load('postgraphile/utils');
const { PostGraphileConnectionFilterPreset } = load('postgraphile-plugin-connection-filter');

const ViewKeysPlugin = makeJSONPgSmartTagsPlugin(VIEW_SMART_TAGS);

const preset = {
  extends: [
    makeV4Preset(V4_OPTIONS),
    PostGraphileConnectionFilterPreset,
  ],
  plugins: [ViewKeysPlugin],
  pgServices: [makePgService({ connectionString: namedUrl, schemas: ['public'] })],
  grafserv: { watch: false, graphiql: false },
  grafast: { explain: false },
};

async function main() {
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = http.createServer();
  await serv.addTo(server);
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close();
    void pgl.release().then(() => process.exit(0));
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
