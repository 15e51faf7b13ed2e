import http from 'node:http';
import pg from 'pg';
import { floorJson, floorStatement, type CaseName } from './queries';

/**
 * The floor: the least a Node service can do to answer the benchmark's queries. node:http,
 * one pool of node-postgres connections, one named (so prepared once per connection)
 * statement per query, the same JSON tally answers. No GraphQL: the case is the URL path.
 *
 *   BENCH_DATABASE_URL=… BENCH_PORT=… BENCH_ROOT_ID=… node dist/test/bench/floor-server.js
 */
const url = process.env.BENCH_DATABASE_URL;
const port = Number(process.env.BENCH_PORT);
const rootId = Number(process.env.BENCH_ROOT_ID);
const poolMax = Number(process.env.BENCH_POOL_MAX ?? 10);
if (!url || !port || !rootId) throw new Error('set BENCH_DATABASE_URL, BENCH_PORT and BENCH_ROOT_ID');

const pool = new pg.Pool({ connectionString: url, max: poolMax, application_name: 'bench-floor' });
const statements = new Map(
  (['page', 'filtered', 'tree'] as CaseName[]).map((c) => [`/${c}`, { c, query: { name: `floor_${c}`, ...floorStatement(c, rootId) } }]),
);

const server = http.createServer((req, res) => {
  const route = statements.get(req.url ?? '');
  // The body is read in full, as any server must, but the path alone says what to run.
  req.resume();
  req.on('end', () => {
    if (!route) {
      res.writeHead(req.url === '/healthz' ? 200 : 404).end();
      return;
    }
    pool.query(route.query).then(
      (result) => {
        const body = floorJson(route.c, result.rows);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      },
      (err: Error) => {
        res.writeHead(500).end(err.message);
      },
    );
  });
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
