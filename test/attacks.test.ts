import { ApolloServer } from '@apollo/server';
import { parse, type GraphQLSchema } from 'graphql';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/context';
import { seedCatalog } from '../src/database/seed';
import { readinessProbe } from '../src/http/hygiene';
import { executionBudgetPlugin } from '../src/security/budget';
import { operationCost } from '../src/security/cost-limit';
import { startServer, type RunningServer } from '../src/server';
import { createSchema } from '../src/schema';
import { createTestApp, type TestApp } from './support/app';
import { refreshViews } from './support/fixtures';

// The attacks of issue 10, as an attacker would send them, over HTTP to a production-mode
// server: each is refused, or completes within its bounds, in well under a second, and
// /healthz keeps answering meanwhile. Sizes are those that took seconds (or the process) before.

let app: TestApp;
let server: RunningServer;
let base: string;
let schema: GraphQLSchema;

interface Answer {
  status: number;
  ms: number;
  headers: http.IncomingHttpHeaders;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

function post(body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, headers: res.headers, body: JSON.parse(text) });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const gql = (query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  post(JSON.stringify({ query, variables }), headers);

/** Runs `attack` while polling /healthz; returns the attack's answer and the slowest health answer. */
async function duringAttack<T>(attack: () => Promise<T>): Promise<{ result: T; slowestHealthMs: number; healthChecks: number }> {
  let done = false;
  let slowest = 0;
  let checks = 0;
  const polling = (async () => {
    while (!done) {
      const t0 = performance.now();
      const res = await fetch(`${base}/healthz`);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t0);
      checks++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    return { result: await attack(), slowestHealthMs: slowest, healthChecks: checks };
  } finally {
    done = true;
    await polling;
  }
}

const codes = (a: Answer) => (a.body.errors ?? []).map((e) => e.extensions?.code);
const FAST_MS = 1000;

beforeAll(async () => {
  // Budgets and the heavy-request rate are tested in test/rate-limit.test.ts; here each
  // attack must meet the bounds of a single request.
  app = await createTestApp({ PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'production', RATE_LIMIT: 'off', HEAVY_QUERY_POINTS_PER_SECOND: '100000000' });
  // 6 roots, 3 children each, 5 levels: 726 categories; 5,000 items, 20,000 reviews.
  await seedCatalog(app.sql, { roots: 6, branching: 3, depth: 5, items: 5000, reviews: 20_000, unreviewedShare: 0.1 });
  await refreshViews(app.sql);
  await app.services.costBounds.reload();
  schema = await createSchema();
  server = await startServer(createServices(app.db, app.config, app.services.log));
  base = `http://127.0.0.1:${server.port}`;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await app?.close();
});

describe('validation cannot be made slow', () => {
  it('refuses fragments that each spread the next one twice (40 levels) at once', async () => {
    const levels = 40;
    const frags = Array.from({ length: levels }, (_, i) =>
      i === levels - 1 ? `fragment F${i} on Category { id name }` : `fragment F${i} on Category { ...F${i + 1} parent { ...F${i + 1} } }`,
    );
    const query = `{ category(id: "1") { ...F0 } } ${frags.join(' ')}`;
    const { result, slowestHealthMs } = await duringAttack(() => gql(query));
    expect(result.status).toBe(400);
    expect(codes(result)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(result.ms).toBeLessThan(FAST_MS);
    expect(slowestHealthMs).toBeLessThan(FAST_MS);
  });

  it('refuses a field repeated 33,000 times (99 KB) while parsing', async () => {
    const query = `{ ${'__typename '.repeat(9000)} }`;
    const { result } = await duringAttack(() => gql(query));
    expect(result.status).toBe(400);
    expect(codes(result)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(result.ms).toBeLessThan(FAST_MS);
    // Under the token cap, a field repeated is refused before graphql-js compares every pair.
    const a = await gql(`{ gearItem(id: "1") { ${'id '.repeat(app.config.limits.maxTokens - 12)} } }`);
    expect(a.status).toBe(400);
    expect(codes(a)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(a.ms).toBeLessThan(FAST_MS);
  });

  it('validates the worst documents the caps let through in well under a second', async () => {
    const max = app.config.limits.maxTokens;
    const n = Math.floor((max - 12) / 1);
    const frag = (i: number) => `fragment F${i} on Query { gearItem(id: "${i}") { id name } }`;
    const k = Math.floor((max - 10) / 20);
    const shapes: Record<string, string> = {
      'one field repeated to the token cap': `{ gearItem(id: "1") { ${'id '.repeat(n - 8)} } }`,
      'conflicting fragments spread at the root': `{ ${Array.from({ length: k }, (_, i) => `...F${i}`).join(' ')} } ${Array.from({ length: k }, (_, i) => frag(i)).join(' ')}`,
      'fragments doubling to the selection cap': (() => {
        const levels = 10;
        const f = Array.from({ length: levels }, (_, i) =>
          i === levels - 1 ? `fragment D${i} on Category { id }` : `fragment D${i} on Category { ...D${i + 1} parent { ...D${i + 1} } }`,
        );
        return `{ category(id: "1") { ...D0 } } ${f.join(' ')}`;
      })(),
      'repeats nested 3 × 3 × 3 × 3': (() => {
        let n = 'id';
        for (let i = 0; i < 4; i++) n = `${`parent { ${n} } `.repeat(3)}id`;
        return `{ category(id: "1") { ${n} } }`;
      })(),
      'repeats nested 10 × 10 × 3': (() => {
        let n = 'id name name';
        for (let i = 0; i < 2; i++) n = `parent { ${n} } `.repeat(10);
        return `{ category(id: "1") { ${n} } }`;
      })(),
      'same-named fields with different arguments': `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: gearItems(first: ${i}) { totalCount edges { node { id name reviewCount } } }`).join(' ')} }`,
    };
    const timings: Record<string, string> = {};
    for (const [label, query] of Object.entries(shapes)) {
      const a = await gql(query);
      timings[label] = `${a.status} ${codes(a).join(',') || 'data'} in ${a.ms.toFixed(1)} ms`;
      expect(a.ms).toBeLessThan(FAST_MS);
    }
    console.info('worst documents under the caps:', timings);
  });

  it('applies the same document checks to GET', async () => {
    const query = `{ gearItem(id: "1") { ${'id '.repeat(900)} } }`;
    const res = await fetch(`${base}/graphql?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': '1' } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
  });

  it('answers circular fragments 400, not 500', async () => {
    const a = await gql('{ category(id: "1") { ...A } } fragment A on Category { parent { ...B } } fragment B on Category { children { ...A } }');
    expect(a.status).toBe(400);
    expect(codes(a)[0]).toBe('GRAPHQL_VALIDATION_FAILED');
    const self = await gql('{ category(id: "1") { ...A } } fragment A on Category { ...A }');
    expect(self.status).toBe(400);
  });

  it('hides "Did you mean" suggestions in production', async () => {
    const a = await gql('{ gearItem(id: "1") { nam revewCount } }');
    expect(a.status).toBe(400);
    expect(JSON.stringify(a.body)).not.toMatch(/did you mean|reviewCount|"name"/i);
  });
});

describe('the cost model charges what a query can return', () => {
  it('refuses a parent/children walk of the tree with aliased children', async () => {
    let walk = 'id name';
    // Within the depth and alias limits (11 levels, 30 aliases): only the cost refuses it.
    for (let i = 0; i < 4; i++) walk = `parent { a: children { ${walk} } b: children { ${walk} } }`;
    const query = `{ categoryTree { category { ${walk} } } }`;
    const { result, slowestHealthMs } = await duringAttack(() => gql(query));
    expect(codes(result)).toEqual(['BAD_USER_INPUT']);
    expect(result.body.errors![0].extensions!.cost).toBeGreaterThan(app.config.limits.maxComplexity);
    expect(result.ms).toBeLessThan(FAST_MS);
    expect(slowestHealthMs).toBeLessThan(FAST_MS);
  });

  it('charges categoryTree by the nodes it can return and children by the largest fan-out', async () => {
    const b = app.services.costBounds.current().bounds;
    expect(b.nodesUpToDepth.at(-1)).toBe(726);
    expect(b.maxFanout).toBe(3);
    const cost = (q: string, v = {}) => operationCost(schema, parse(q), { variables: v }, { bounds: b, countRowsPerPoint: 100 });
    // 726 nodes × (node + id) + the list itself.
    expect(cost('{ categoryTree { id } }')).toBe(1 + 726 * 1);
    expect(cost('{ categoryTree(maxDepth: 0) { id } }')).toBe(1 + 6);
    expect(cost('{ categoryTree(rootId: "1", maxDepth: 1) { id } }')).toBe(1 + 4);
    expect(cost('{ category(id: "1") { children { children { id } } } }')).toBe(1 + 1 + 3 * (1 + 3 * 1));
    // totalCount: the rows it may count (5,000 items / 100 per point), once per alias, whatever `first`.
    expect(cost('{ gearItems(first: 0) { totalCount } }')).toBe(1 + 50);
    expect(cost('{ gearItems(first: 10) { totalCount edges { node { id } } } }')).toBe(1 + 50 + 10 * (1 + 1 + 1));
  });

  it('charges 30 aliased totalCounts as 30 counts: refused at 100,000 items', async () => {
    const query = `{ ${Array.from({ length: 30 }, (_, i) => `c${i}: gearItems(first: 0, filter: { nameContains: "a" }) { totalCount }`).join(' ')} }`;
    const b = { ...app.services.costBounds.current().bounds, items: 100_000 };
    expect(operationCost(schema, parse(query), {}, { bounds: b, countRowsPerPoint: 100 })).toBeGreaterThan(app.config.limits.maxComplexity);
    // At this suite's 5,000 items it is accepted, and bounded.
    const { result, slowestHealthMs } = await duringAttack(() => gql(query));
    expect(result.body.errors).toBeUndefined();
    expect(result.ms).toBeLessThan(FAST_MS);
    expect(slowestHealthMs).toBeLessThan(FAST_MS);
  });

  it('runs the heaviest accepted tree query within its bounds', async () => {
    const query = '{ categoryTree { id name depth path category { itemCount reviewCount reviewRating } } }';
    const { result, slowestHealthMs } = await duringAttack(() => gql(query));
    expect(result.body.errors).toBeUndefined();
    expect(result.ms).toBeLessThan(FAST_MS);
    expect(slowestHealthMs).toBeLessThan(FAST_MS);
  });
});

describe('HTTP hygiene', () => {
  it('answers variables nested 10,000 deep with 400', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const a = await post(`{"query":"query($v: [ID]) { __typename }","variables":{"v":${deep}}}`);
    expect(a.status).toBe(400);
    expect(codes(a)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers variables nested 2,000 deep in a GET query string with 400', async () => {
    const deep = '['.repeat(2000) + ']'.repeat(2000);
    const res = await fetch(`${base}/graphql?query=${encodeURIComponent('query($v: [GearItemOrder!]) { gearItems(orderBy: $v) { totalCount } }')}&variables=${encodeURIComponent(`{"v":${deep}}`)}`, {
      headers: { 'apollo-require-preflight': '1' },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  it('answers a garbage deflate body with 400', async () => {
    const a = await post(Buffer.from('this is not deflate at all'), { 'content-encoding': 'deflate' });
    expect(a.status).toBe(400);
    expect(codes(a)).toEqual(['BAD_USER_INPUT']);
  });

  it('cuts an over-limit body at the limit instead of reading it to the end', async () => {
    const announced = 2 * 1024 * 1024 * 1024;
    let sent = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(announced) } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', (e) => (sent > 0 ? resolve(-1) : reject(e)));
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (sent < 64 * 1024 * 1024 && req.write(chunk)) sent += chunk.length;
        if (sent < 64 * 1024 * 1024) req.once('drain', pump);
      };
      req.write('{"query":"');
      pump();
    });
    expect(status).toBe(413);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a chunked body (no Content-Length) without reading it', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      req.write('{"query":"');
    });
    expect(status).toBe(411);
  });

  it('closes connections from one address past HTTP_MAX_CONNECTIONS_PER_ADDRESS', async () => {
    const net = await import('node:net');
    const cap = app.config.http.maxConnectionsPerAddress;
    const sockets = await Promise.all(
      Array.from({ length: cap + 5 }, () => new Promise<import('node:net').Socket>((resolve) => {
        const s = net.connect(server.port, '127.0.0.1', () => resolve(s));
        s.on('error', () => {});
      })),
    );
    await new Promise((r) => setTimeout(r, 200));
    const closed = sockets.filter((s) => s.destroyed || s.readableEnded).length;
    expect(closed).toBeGreaterThanOrEqual(5);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('answers unknown routes with JSON', async () => {
    const res = await fetch(`${base}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'NOT_FOUND' } }] });
  });

  it('answers /readyz from a result at most a second old', async () => {
    let checks = 0;
    const probe = readinessProbe(async () => (checks++, true), 1000);
    const answers = await Promise.all(Array.from({ length: 200 }, () => probe()));
    expect(answers.every(Boolean)).toBe(true);
    expect(checks).toBe(1);
    for (let i = 0; i < 50; i++) await probe();
    expect(checks).toBe(1);
  });
});

describe('execution bounds', () => {
  const slowSchema = async (timeoutMs: number, maxFields: number, exempt?: () => boolean) => {
    const { makeExecutableSchema } = await import('@graphql-tools/schema');
    const schema = makeExecutableSchema({
      typeDefs: 'type Query { slow: [Int!]! many: [Int!]! }',
      resolvers: {
        Query: {
          slow: async () => (await new Promise((r) => setTimeout(r, 300)), [1, 2, 3]),
          many: () => Array.from({ length: 10 }, (_, i) => i),
        },
      },
    });
    const apollo = new ApolloServer({ schema, plugins: [executionBudgetPlugin({ timeoutMs, maxFields, exempt }) as never] });
    await apollo.start();
    return apollo;
  };

  it('does not apply them to exempt (ops) requests', async () => {
    const apollo = await slowSchema(100, 5, () => true);
    try {
      const slow = await apollo.executeOperation({ query: '{ slow }' });
      expect(slow.body.kind === 'single' ? slow.body.singleResult : null).toEqual({ data: { slow: [1, 2, 3] } });
    } finally {
      await apollo.stop();
    }
  });

  it('answers REQUEST_TIMEOUT past the deadline, and RESPONSE_TOO_LARGE past the field cap', async () => {
    const apollo = await slowSchema(100, 5);
    try {
      const slow = await apollo.executeOperation({ query: '{ slow }' });
      const body = slow.body.kind === 'single' ? slow.body.singleResult : null;
      expect(body?.errors?.map((e) => e.extensions?.code)).toEqual(['REQUEST_TIMEOUT']);
      expect(body?.data).toBeUndefined();
      expect(slow.http.status).toBe(503);
      const many = await apollo.executeOperation({ query: '{ a: many b: many c: many d: many e: many f: many }' });
      const body2 = many.body.kind === 'single' ? many.body.singleResult : null;
      expect(body2?.errors?.map((e) => e.extensions?.code)).toEqual(['RESPONSE_TOO_LARGE']);
    } finally {
      await apollo.stop();
    }
  });
});

