import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';

// Relay's compiler (relay-compiler from npm, a prebuilt binary) over the fragments in
// test/relay/src, which use @refetchable and @connection, against the emitted schema with
// nodeInterfaceIdField "nodeId"; then the operations it writes are sent to the server.

const root = resolve(__dirname, '..');
const bin = resolve(root, 'node_modules/relay-compiler/cli.js');

function cannotRun(): string | null {
  const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0 && /Relay Compiler/.test(r.stdout)) return null;
  return (r.error?.message ?? r.stderr) || `exit code ${r.status}`;
}

const problem = cannotRun();
if (problem) console.warn(`SKIPPED: the relay-compiler binary cannot run on this machine (${problem.trim()}); the Relay compiler test is skipped.`);

describe.skipIf(problem !== null)('the Relay compiler', () => {
  let dir: string;
  let out: string;
  let app: TestApp;
  let itemId: number;

  const compile = (...args: string[]) =>
    spawnSync(process.execPath, [bin, join(dir, 'relay.config.json'), ...args], { encoding: 'utf8', timeout: 120_000, cwd: dir });

  /** The operation text Relay wrote for `name`. */
  const operation = (name: string): string => {
    const artifact = readFileSync(join(out, `${name}.graphql.ts`), 'utf8');
    const text = /"text": ("(?:[^"\\]|\\.)*")/.exec(artifact)?.[1];
    if (!text) throw new Error(`no operation text in ${name}`);
    return JSON.parse(text) as string;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tally-relay-'));
    out = join(dir, '__generated__');
    mkdirSync(out);
    const config = JSON.parse(readFileSync(join(root, 'test/relay/relay.config.json'), 'utf8')) as Record<string, unknown>;
    // The same config, with its paths made absolute and the artifacts written outside the repository.
    writeFileSync(
      join(dir, 'relay.config.json'),
      JSON.stringify({ ...config, src: join(root, 'test/relay/src'), schema: join(root, 'schema/schema.graphql'), artifactDirectory: out }),
    );
    app = await createTestApp();
    const c = await addCategory(app.sql, 'Tents');
    itemId = await addItem(app.sql, 'Alpine Tent', c);
    await addReviews(app.sql, itemId, [5, 4, 3, 2, 1, 5, 4]);
    for (const name of ['Dome', 'Tarp', 'Bivy']) await addReviews(app.sql, await addItem(app.sql, name, c), [3]);
    await refreshViews(app.sql);
  });

  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compiles @refetchable and @connection fragments against schema/schema.graphql', () => {
    const run = compile();
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const written = readdirSync(out);
    for (const name of ['ItemDetailsRefetchQuery', 'ItemReviewsPaginationQuery', 'ItemListPaginationQuery', 'ItemListNewestPaginationQuery', 'ItemPageQuery']) {
      expect(written).toContain(`${name}.graphql.ts`);
    }
    // Refetching goes through node(nodeId:), the Node interface's id field.
    expect(operation('ItemDetailsRefetchQuery')).toMatch(/node\(nodeId: \$nodeId\)/);
    // --validate: the artifacts just written are what the fragments and the schema say.
    const check = compile('--validate');
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });

  it("refuses a fragment that the schema does not allow (the compiler's checks are on)", () => {
    const bad = mkdtempSync(join(tmpdir(), 'tally-relay-bad-'));
    try {
      mkdirSync(join(bad, 'src'));
      mkdirSync(join(bad, 'out'));
      writeFileSync(join(bad, 'src', 'Bad.ts'), 'export const Bad = graphql`fragment Bad_item on GearItem { noSuchField }`;\n');
      const config = JSON.parse(readFileSync(join(dir, 'relay.config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(bad, 'relay.config.json'), JSON.stringify({ ...config, src: join(bad, 'src'), artifactDirectory: join(bad, 'out') }));
      const run = spawnSync(process.execPath, [bin, join(bad, 'relay.config.json')], { encoding: 'utf8', timeout: 120_000, cwd: bad });
      expect(run.status).not.toBe(0);
      expect(run.stdout + run.stderr).toMatch(/noSuchField/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('writes operations the server answers: refetch by nodeId, reviews and items forward and backward', async () => {
    const nodeId = Buffer.from(JSON.stringify(['GearItem', itemId])).toString('base64');
    const page = await app.exec<{ node: { nodeId: string; name: string; reviews: { edges: unknown[]; pageInfo: { endCursor: string; hasNextPage: boolean } } }; newest: { edges: { node: { name: string } }[] } }, Record<string, unknown>>(
      operation('ItemPageQuery'),
      { nodeId, filter: { or: [{ nameContains: 'tent' }, { not: { reviewRating: { gte: 3 } } }] } },
    );
    expect(page.errors).toBeUndefined();
    expect(page.data!.node).toMatchObject({ nodeId, name: 'Alpine Tent' });
    expect(page.data!.node.reviews.edges).toHaveLength(5);
    // The newest four by createdAt, backward from the end: the last item added comes last.
    expect(page.data!.newest.edges.map((e) => e.node.name)).toEqual(['Alpine Tent', 'Dome', 'Tarp', 'Bivy']);

    const refetch = await app.exec<{ node: { name: string } }, Record<string, unknown>>(operation('ItemDetailsRefetchQuery'), { nodeId });
    expect(refetch.data!.node.name).toBe('Alpine Tent');

    const more = await app.exec<{ node: { reviews: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } } }, Record<string, unknown>>(
      operation('ItemReviewsPaginationQuery'),
      { nodeId, count: 5, cursor: page.data!.node.reviews.pageInfo.endCursor },
    );
    expect(more.errors).toBeUndefined();
    expect(more.data!.node.reviews.edges).toHaveLength(2);
    expect(more.data!.node.reviews.pageInfo.hasNextPage).toBe(false);

    // Relay's backward pagination query sends last/before with first left out.
    const back = await app.exec<{ newest: { edges: { node: { name: string } }[]; pageInfo: { hasPreviousPage: boolean; startCursor: string } } }, Record<string, unknown>>(
      operation('ItemListNewestPaginationQuery'),
      { count: 2 },
    );
    expect(back.errors).toBeUndefined();
    expect(back.data!.newest.edges.map((e) => e.node.name)).toEqual(['Tarp', 'Bivy']);
    const earlier = await app.exec<{ newest: { edges: { node: { name: string } }[] } }, Record<string, unknown>>(operation('ItemListNewestPaginationQuery'), {
      count: 2,
      cursor: back.data!.newest.pageInfo.startCursor,
    });
    expect(earlier.data!.newest.edges.map((e) => e.node.name)).toEqual(['Alpine Tent', 'Dome']);

    const list = await app.exec<{ gearItems: { edges: unknown[]; generationChanged: boolean } }, Record<string, unknown>>(operation('ItemListPaginationQuery'), {
      count: 2,
      filter: { not: { nameContains: 'tent' } },
    });
    expect(list.errors).toBeUndefined();
    expect(list.data!.gearItems.edges).toHaveLength(2);
  });
});
