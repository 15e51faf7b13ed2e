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
  server = await startServer(createServices(app.orm, app.config, app.services.log));
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
