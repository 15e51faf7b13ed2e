import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { hasChromium, launchChromium, offlineContext, screenshotPath, skipNotice } from './support/browser';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';
import { postGraphql, startInstance, type HttpInstance } from './support/http-servers';

// Functions passed to page.waitForFunction run in the browser; this project has no DOM types.
declare const document: any;

// The freshness page at /ops/ and the GraphiQL explorer, in headless Chromium with every
// request to a host other than this machine blocked; and the API fields the page reads.

let app: TestApp;
let inst: HttpInstance;
let browser: Browser | undefined;
let itemId: number;

beforeAll(async () => {
  app = await createTestApp();
  const outdoor = await addCategory(app.sql, 'Outdoor');
  const tents = await addCategory(app.sql, 'Tents', outdoor);
  itemId = await addItem(app.sql, 'Alpine Tent', tents);
  await addReviews(app.sql, itemId, [5, 4, 3]);
  await addItem(app.sql, 'Headlamp', outdoor);
  await refreshViews(app.sql);
  await refreshViews(app.sql);
  inst = await startInstance(app.url, { NODE_ENV: 'development' });
  skipNotice('the browser tests of /ops/ and the explorer');
  if (hasChromium) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await inst?.close();
  await app?.close();
});

describe('what the ops page reads', () => {
  it('lists each view’s tables and its newest refreshes, every view in one statement', async () => {
    const res = await app.exec(`{ materializedViews { name dependsOn sourceTables recentRefreshes(last: 1) { durationMs concurrently by refreshedAt startedAt } } }`);
    expect(res.errors).toBeUndefined();
    const views = (res.data as any).materializedViews as { name: string; sourceTables: string[]; recentRefreshes: { by: string }[] }[];
    expect(views.map((v) => v.name)).toEqual(['category_tree', 'gear_item_stats', 'category_stats']);
    expect(views.find((v) => v.name === 'gear_item_stats')!.sourceTables).toContain('public.gear_review');
    for (const v of views) expect(v.recentRefreshes).toMatchObject([{ by: 'seed' }]);
    // One statement for the statuses, one for every view's history.
    expect(res.statements).toBe(2);
    const all = await app.exec(`{ materializedViews { recentRefreshes { refreshedAt } } }`);
    for (const v of (all.data as any).materializedViews) expect(v.recentRefreshes).toHaveLength(2);
    const tooMany = await app.exec(`{ materializedViews { recentRefreshes(last: 101) { durationMs } } }`);
    expect(tooMany.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('serves the page as static files with a strict content security policy', async () => {
    const redirect = await fetch(`${inst.base}/ops`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/ops/');
    const page = await fetch(`${inst.base}/ops/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(await page.text()).toContain('<script src="ops.js">');
    expect((await fetch(`${inst.base}/ops/nothing.js`)).status).toBe(404);
  });

  it('in production: the ops page, but no explorer and no CDN landing page', async () => {
    const prod = await startInstance(app.url, { NODE_ENV: 'production' });
    try {
      expect((await fetch(`${prod.base}/ops/`)).status).toBe(200);
      const html = await fetch(`${prod.base}/graphql`, { headers: { accept: 'text/html' } });
      expect(html.status).toBe(400);
      expect(await html.text()).not.toMatch(/cdn|<html/i);
      expect((await fetch(`${prod.base}/explorer/graphiql.min.js`)).status).toBe(404);
    } finally {
      await prod.close();
    }
  });
});

describe.skipIf(!hasChromium)('in headless Chromium, offline', () => {
  it('lists the views, shows a view stale after addReview, and refreshes it with the token', async () => {
    const { context, blocked } = await offlineContext(browser!);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    await page.goto(`${inst.base}/ops/`);
    await page.waitForSelector('body[data-loaded="true"]');
    const rows = page.locator('#views tbody tr');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-view')))).toEqual([
      'category_tree',
      'gear_item_stats',
      'category_stats',
    ]);
    const state = (view: string) => page.locator(`tr[data-view="${view}"] td.state`).innerText();
    expect(await state('gear_item_stats')).toBe('fresh');
    // The graph: three views and the tables they read, each view with its edges.
    expect(await page.locator('#graph svg g.node.fresh').count()).toBe(3);
    expect(await page.locator('#graph svg g[data-node="t:public.gear_review"]').count()).toBe(1);
    expect(await page.locator('#graph svg path.edge').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('tr[data-view="gear_item_stats"] svg.plot circle').count()).toBe(2);

    const added = await postGraphql(inst.base, 'mutation($input: AddReviewInput!) { addReview(input: $input) { id } }', {
      input: { gearItemId: String(itemId), rating: 1 },
    });
    expect(added.body.errors).toBeUndefined();
    await page.click('#reload');
    await page.waitForFunction(() => document.querySelector('tr[data-view="gear_item_stats"] td.state')?.textContent === 'stale');
    expect(await state('category_stats')).toBe('stale');
    expect(await state('category_tree')).toBe('fresh');
    expect(await page.locator('#graph svg g.node.stale').count()).toBe(2);
    await page.screenshot({ path: screenshotPath('ops-page-stale.png'), fullPage: true });

    // A wrong token is refused and forgotten; the right one refreshes the view and its dependant.
    await page.click('tr[data-view="gear_item_stats"] button.refresh');
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-ok');
    await page.waitForFunction(() => document.getElementById('message')!.textContent!.startsWith('Refused'));
    await page.click('tr[data-view="gear_item_stats"] button.refresh');
    await page.fill('#token-input', OPS_TOKEN);
    await page.click('#token-ok');
    await page.waitForFunction(() => document.getElementById('message')!.textContent!.startsWith('Refreshed gear_item_stats'));
    await page.waitForFunction(() => document.querySelector('tr[data-view="gear_item_stats"] td.state')?.textContent === 'fresh');
    expect(await state('category_stats')).toBe('fresh');
    expect(await page.locator('tr[data-view="gear_item_stats"] svg.plot circle').count()).toBe(3);
    const shot = screenshotPath('ops-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`ops page screenshots: ${shot} (and ops-page-stale.png beside it)`);

    // The token was kept for the tab: "Refresh all" needs no second prompt.
    await page.click('#refresh-all');
    await page.waitForFunction(() => document.getElementById('message')!.textContent!.startsWith('Refreshed category_tree'));
    expect(blocked).toEqual([]);
    expect(problems.filter((p) => !/status of 200|Failed to load resource/.test(p))).toEqual([]);
    await context.close();
  });

  it('serves GraphiQL from npm packages, with no request leaving the machine, and runs a query', async () => {
    const { context, blocked } = await offlineContext(browser!);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${inst.base}/graphql`);
    await page.waitForSelector('.graphiql-container', { timeout: 20_000 });
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(() => /"totalCount": 2/.test(document.querySelector('.graphiql-response')?.textContent ?? ''), undefined, {
      timeout: 20_000,
    });
    expect(await page.locator('.graphiql-response').innerText()).toContain('Alpine Tent');
    const shot = screenshotPath('explorer.png');
    await page.screenshot({ path: shot });
    console.log(`explorer screenshot: ${shot}`);
    expect(blocked).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
