import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/context';
import { startServer, type RunningServer } from '../src/server';
import { createTestApp, type TestApp } from './support/app';
import { addItem, refreshViews } from './support/fixtures';

// The server as a client meets it: HTTP, health routes, error hygiene.

let app: TestApp;
let server: RunningServer;
let base: string;
let itemId: number;

beforeAll(async () => {
  app = await createTestApp({ PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'production' });
  server = await startServer(createServices(app.db, app.config, app.services.log));
  base = `http://127.0.0.1:${server.port}`;
  itemId = await addItem(app.sql, 'Trail Stove', null);
  await refreshViews(app.sql);
});

afterAll(async () => {
  await server?.stop();
  await app?.close();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('HTTP', () => {
  it('answers /healthz, and /readyz while the database answers', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('serves /graphql and echoes a sane x-request-id', async () => {
    const res = await post({ query: `{ gearItem(id: "${itemId}") { name reviewCount reviewRating } }` }, { 'x-request-id': 'abc-123' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect(await res.json()).toEqual({ data: { gearItem: { name: 'Trail Stove', reviewCount: 0, reviewRating: null } } });
    const other = await post({ query: '{ __typename }' }, { 'x-request-id': 'no spaces allowed' });
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses a simple GET that could be a cross-site request', async () => {
    const res = await fetch(`${base}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(res.status).toBe(400);
  });

  it('hides internal errors behind a request id, with no SQL, names or stack', async () => {
    await app.sql.rows('alter materialized view gear_item_stats rename to gear_item_stats_away');
    try {
      const res = await post({ query: `{ gearItem(id: "${itemId}") { reviewCount } }` });
      const text = await res.text();
      const body = JSON.parse(text);
      expect(body.errors[0].message).toBe('Internal server error');
      expect(body.errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
      expect(body.errors[0].extensions.requestId).toBe(res.headers.get('x-request-id'));
      expect(text).not.toMatch(/gear_item_stats|select|relation|stack|at /i);
    } finally {
      await app.sql.rows('alter materialized view gear_item_stats_away rename to gear_item_stats');
    }
  });

  it('turns introspection off in production', async () => {
    const res = await post({ query: '{ __schema { types { name } } }' });
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

describe('request limits', () => {
  const deep = (levels: number) => {
    let q = 'id';
    for (let i = 0; i < levels; i++) q = `parent { ${q} }`;
    return `{ category(id: "1") { ${q} } }`;
  };

  it('refuses a query nested deeper than the limit before running anything', async () => {
    const { maxDepth } = app.config.limits;
    const ok = await app.exec(deep(maxDepth - 2));
    expect(ok.errors).toBeUndefined();
    const res = await app.exec(deep(maxDepth + 1));
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.statements).toBe(0);
  });

  it('refuses a query whose pages multiply past the cost limit', async () => {
    const res = await app.exec('{ gearItems(first: 100) { edges { node { reviews(first: 100) { edges { node { id rating body } } } } } } }');
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: app.config.limits.maxComplexity });
    expect(res.statements).toBe(0);
    const fine = await app.exec('{ gearItems(first: 50) { edges { node { id reviewCount reviews(first: 5) { totalCount } } } } }');
    expect(fine.errors).toBeUndefined();
  });

  it('refuses more aliases than the limit', async () => {
    const many = Array.from({ length: app.config.limits.maxAliases + 1 }, (_, i) => `a${i}: gearItem(id: "1") { id }`).join(' ');
    const res = await app.exec(`{ ${many} }`);
    expect(res.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.statements).toBe(0);
  });

  it('answers variables that do not fit their types with 400, without schema hints in production', async () => {
    const cases = [
      { query: 'query($n: Int) { gearItems(first: $n) { totalCount } }', variables: { n: 'abc' } },
      { query: 'query($n: Int!) { gearItems(first: $n) { totalCount } }', variables: {} },
      { query: 'query($f: GearItemFilter) { gearItems(filter: $f) { totalCount } }', variables: { f: { nop: 1 } } },
    ];
    for (const body of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const json = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(json.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(json.errors[0].message).not.toMatch(/did you mean/i);
    }
  });

  it('answers an oversized or malformed body with a JSON error', async () => {
    const big = await post({ query: `{ __typename }`, padding: 'x'.repeat(app.config.limits.maxBodyBytes) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    const broken = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
  });

  // The plain JSON body (most requests) is read by the endpoint itself, any other by
  // body-parser: every body must get the same answer either way, and as a gzipped body.
  it('reads a body the same way whatever its declared charset or encoding', async () => {
    const query = `{ gearItem(id: "${itemId}") { name } }`;
    const bodies: [string, Buffer][] = [
      ['a query', Buffer.from(JSON.stringify({ query }))],
      ['a query after whitespace', Buffer.from(`\n\t ${JSON.stringify({ query })}`)],
      ['a query after a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ query }))])],
      ['non-ASCII text', Buffer.from(JSON.stringify({ query: `{ gearItems(first: 1, filter: { nameContains: "Zürich ☃" }) { totalCount } }` }))],
      ['an empty body', Buffer.alloc(0)],
      ['a number', Buffer.from('123')],
      ['a string', Buffer.from('"{ __typename }"')],
      ['an array', Buffer.from(JSON.stringify([{ query }]))],
      ['cut short', Buffer.from('{"query": ')],
      ['not UTF-8', Buffer.from([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ];
    const send = async (body: Buffer, headers: Record<string, string>) => {
      const res = await fetch(`${base}/graphql`, { method: 'POST', headers: { 'x-request-id': 'same', ...headers }, body });
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
    };
    for (const [label, body] of bodies) {
      const plain = await send(body, { 'content-type': 'application/json' });
      const quotedCharset = await send(body, { 'content-type': 'application/json; charset="utf-8"' });
      const gzipped = await send(gzipSync(body), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      expect({ label, ...quotedCharset }).toEqual({ label, ...plain });
      expect({ label, ...gzipped }).toEqual({ label, ...plain });
      if (plain.status !== 200) expect(JSON.parse(plain.text).errors[0].extensions.code, label).toMatch(/^[A-Z_]+$/);
    }
    const latin1 = await send(Buffer.from(JSON.stringify({ query })), { 'content-type': 'application/json; charset=latin1' });
    expect(latin1.status).toBe(415);
    expect(JSON.parse(latin1.text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});

