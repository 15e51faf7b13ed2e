import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../src/context';
import { startServer, type RunningServer } from '../src/server';
import { OPS_TOKEN, createTestApp, type TestApp } from './support/app';
import { addCategory, addItem, addReviews, refreshViews } from './support/fixtures';

// Bad inputs generated across every argument of the contract, sent over HTTP to a
// production-mode server: each answers a clear, coded error (or, where the input is merely
// odd, a normal answer), nothing internal leaks, and not a byte of the data changes.

let app: TestApp;
let server: RunningServer;
let base: string;
let ids: { root: number; child: number; item: number; other: number };

/** A raw JSON number the client sends where JSON.stringify could not (1e400 parses as Infinity). */
class Raw {
  constructor(readonly json: string) {}
}

interface Case {
  label: string;
  query: string;
  variables?: Record<string, unknown>;
  headers?: Record<string, string | string[]>;
  /** The codes a right answer may carry; 'data' when the input is legal and must simply be answered. */
  expect: readonly string[] | 'data';
}

interface Answer {
  status: number;
  text: string;
  body: { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

/** JSON with Raw values spliced in unquoted. */
function encode(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof Raw ? `\u0001raw${raws.push(v.json) - 1}` : v));
  return text.replace(/"\\u0001raw(\d+)"/g, (_m, i: string) => raws[Number(i)]);
}

/** node:http rather than fetch: it can send a header twice, as a hostile client may. */
function send(body: string, headers: Record<string, string | string[]> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, text, body: JSON.parse(text) });
        } catch {
          reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every table and materialized view, each as a count and an md5 over its rows in a fixed order. */
async function fingerprint(): Promise<Record<string, string>> {
  const relations = await app.sql.rows<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'm') order by 1`,
  );
  const out: Record<string, string> = {};
  for (const { name } of relations) {
    const row = await app.sql.one<{ n: string; md5: string }>(
      `select count(*)::text as n, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) as md5 from "${name}" t`,
    );
    out[name] = `${row!.n}:${row!.md5}`;
  }
  return out;
}

// What an internal error, SQL or a stack would look like. View names are public (the
// materializedViews query lists them), table and constraint names are not.
const LEAK =
  /\bgear_(item|review|category)\b|_fkey|_pkey|_check\b|view_refresh_log|view_source_change|mikro_orm|\bpg_\w|violates|constraint|relation "|syntax error at|sqlstate|duplicate key|invalid input syntax|column "|node_modules|\.[jt]s:\d|\bat \S+ \(|stacktrace|Internal server error/i;

/** Error texts with the client's own input cut out (validation messages may quote it). */
function errorTexts(c: Case, a: Answer): string {
  const inputs: string[] = [];
  const collect = (v: unknown) => {
    if (typeof v === 'string') inputs.push(v, JSON.stringify(v), JSON.stringify(v).slice(1, -1));
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(c.variables);
  collect(c.query);
  inputs.sort((x, y) => y.length - x.length);
  return (a.body.errors ?? [])
    .map((e) => inputs.reduce((s, i) => (i.length > 2 ? s.split(i).join('') : s), `${e.message} ${JSON.stringify(e.extensions ?? {})}`))
    .join('\n');
}

// ---- generated inputs ------------------------------------------------------------------

const SQL = [
  "' OR '1'='1",
  "1'; DROP TABLE gear_item; --",
  "'); DELETE FROM gear_review; --",
  '$$; TRUNCATE gear_category CASCADE; $$',
  "\\'; SELECT pg_sleep(5); --",
  "%' UNION SELECT usename, passwd FROM pg_shadow --",
  '_%',
  '"gear_item_stats"; REFRESH MATERIALIZED VIEW category_stats',
];
const ODD_TEXT = ['\ud800', '🏕️‍🔥 tent', '\u202egnirts desrever', 'Ω≈ç√∫˜µ', '\ufeffbom', 'tab\tnew\nline', 'é'.repeat(199)];
const NUL_TEXT = ['\u0000', 'a\u0000b', "x'\u0000; drop table gear_item"];
const LONG = 'x'.repeat(20_000);

const ID_WRONG_TYPE = [true, {}, [], 1.5, { $ne: 1 }, new Raw('1e400')];
const ID_BAD_VALUE = ['abc', '', ' ', '-1', '0', '1.5', '1e3', '0x10', '99999999999999999999', '2147483648', '١٢', '1 OR 1=1', "1; drop table gear_item; --", LONG, ...NUL_TEXT];
const INT_WRONG_TYPE = [2_147_483_648, -2_147_483_649, 1.5, '1', true, {}, 'NaN', new Raw('1e400'), new Raw('-1e400')];
const FLOAT_WRONG_TYPE = ['NaN', 'Infinity', '-Infinity', '1', true, {}, [], new Raw('1e400'), new Raw('-1e400')];
const STRING_WRONG_TYPE = [1, true, {}, 1.5];
const BOOL_WRONG_TYPE = ['true', 1, 0, 'yes', {}];

const BAD = ['BAD_USER_INPUT'] as const;
const typeCases = (label: string, query: string, values: unknown[], extra: Record<string, unknown> = {}, headers?: Case['headers']): Case[] =>
  values.map((v) => ({ label: `${label} = ${encode(v)?.slice(0, 40)}`, query, variables: { ...extra, v }, headers, expect: BAD }));

const auth = { authorization: `Bearer ${OPS_TOKEN}` };

function generate(): Case[] {
  const cases: Case[] = [];
  const item = String(ids.item);

  // IDs: wrong JSON types fail coercion, malformed ids are refused by name.
  const idArgs: [string, string, boolean, Record<string, unknown>?, Case['headers']?][] = [
    ['gearItem.id', 'query($v: ID!) { gearItem(id: $v) { id } }', true],
    ['category.id', 'query($v: ID!) { category(id: $v) { id } }', true],
    ['categoryTree.rootId', 'query($v: ID) { categoryTree(rootId: $v) { id } }', false],
    ['gearItems.filter.categoryId', 'query($v: ID) { gearItems(filter: { categoryId: $v }) { totalCount } }', false],
    ['gearItems.filter.inCategory', 'query($v: ID) { gearItems(filter: { inCategory: $v }) { totalCount } }', false],
    ['createCategory.input.parentId', 'mutation($v: ID) { createCategory(input: { name: "Hostile", parentId: $v }) { id } }', false, {}, auth],
    ['createGearItem.input.categoryId', 'mutation($v: ID) { createGearItem(input: { name: "Hostile", categoryId: $v }) { id } }', false, {}, auth],
    ['addReview.input.gearItemId', 'mutation($v: ID!) { addReview(input: { gearItemId: $v, rating: 3 }) { id } }', true],
  ];
  for (const [label, query, required, extra, headers] of idArgs) {
    cases.push(...typeCases(label, query, [...ID_WRONG_TYPE, ...ID_BAD_VALUE, ...(required ? [null] : [])], extra, headers));
  }

  // Ints: past 32 bits, fractions, strings, non-finite; then out of each argument's range.
  const intArgs: [string, string, unknown[], Record<string, unknown>?][] = [
    ['gearItems.first', 'query($v: Int) { gearItems(first: $v) { totalCount } }', [-1, 101, -2_147_483_648]],
    ['GearItem.reviews.first', 'query($id: ID!, $v: Int) { gearItem(id: $id) { reviews(first: $v) { totalCount } } }', [-1, 101], { id: item }],
    ['gearItems.last', 'query($v: Int) { gearItems(last: $v) { totalCount } }', [-1, 101, -2_147_483_648]],
    ['GearItem.reviews.last', 'query($id: ID!, $v: Int) { gearItem(id: $id) { reviews(last: $v) { totalCount } } }', [-1, 101], { id: item }],
    ['categoryTree.maxDepth', 'query($v: Int) { categoryTree(maxDepth: $v) { id } }', [-1, -2_147_483_648]],
    ['addReview.input.rating', 'mutation($id: ID!, $v: Int!) { addReview(input: { gearItemId: $id, rating: $v }) { id } }', [0, 6, -1, 2_147_483_647, null], { id: item }],
    ...(['eq', 'ne', 'gt', 'gte', 'lt', 'lte'] as const).map(
      (op): [string, string, unknown[]] => [`gearItems.filter.reviewCount.${op}`, `query($v: Int) { gearItems(filter: { reviewCount: { ${op}: $v } }) { totalCount } }`, []],
    ),
  ];
  for (const [label, query, outOfRange, extra] of intArgs) cases.push(...typeCases(label, query, [...INT_WRONG_TYPE, ...outOfRange], extra));

  // Floats: NaN and Infinity cannot be written in JSON or GraphQL except as 1e400 and strings.
  for (const op of ['eq', 'gt', 'gte', 'lt', 'lte'] as const) {
    cases.push(...typeCases(`gearItems.filter.reviewRating.${op}`, `query($v: Float) { gearItems(filter: { reviewRating: { ${op}: $v } }) { totalCount } }`, FLOAT_WRONG_TYPE));
    for (const literal of ['1e400', '-1e400', 'NaN', 'Infinity', '"2.5"']) {
      cases.push({ label: `reviewRating.${op} literal ${literal}`, query: `{ gearItems(filter: { reviewRating: { ${op}: ${literal} } }) { totalCount } }`, expect: ['BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED'] });
    }
  }
  cases.push(...typeCases('gearItems.filter.reviewRating.isNull', 'query($v: Boolean) { gearItems(filter: { reviewRating: { isNull: $v } }) { totalCount } }', BOOL_WRONG_TYPE));
  cases.push(...typeCases('refreshViews.concurrently', 'mutation($v: Boolean) { refreshViews(views: ["gear_item_stats"], concurrently: $v) { refreshed { name } } }', BOOL_WRONG_TYPE, {}, auth));

  // Enums and lists.
  cases.push(
    ...typeCases('gearItems.orderBy', 'query($v: [GearItemOrder!]) { gearItems(orderBy: $v) { totalCount } }', [
      [{ field: 'name' }],
      [{ field: 'DROP' }],
      [{ field: 'ID; DROP TABLE gear_item' }],
      [{ field: 'ID', direction: 'SIDEWAYS' }],
      [{ field: 'ID', direction: 'asc' }],
      [{ field: 1 }],
      [{}],
      [null],
      [{ field: 'ID', extra: 1 }],
      'id',
      { field: 'ID', direction: "ASC'; --" },
    ]),
  );

  // Strings a client reads with: SQL and odd unicode are plain text; NUL and length are refused.
  const nameContains = 'query($v: String) { gearItems(filter: { nameContains: $v }) { totalCount } }';
  cases.push(...typeCases('gearItems.filter.nameContains', nameContains, [...STRING_WRONG_TYPE, ...NUL_TEXT, LONG]));
  for (const v of [...SQL, ...ODD_TEXT.slice(0, -1)]) {
    cases.push({ label: `nameContains = ${JSON.stringify(v).slice(0, 40)}`, query: nameContains, variables: { v }, expect: 'data' });
  }

  // Strings a client writes: each goes through the INSERT, which then fails on the
  // reference that does not exist, so the write is attempted and must leave nothing.
  const missing = '2147483000';
  const writeArgs: [string, string, Record<string, unknown>, Case['headers']?][] = [
    ['createCategory.input.name', 'mutation($v: String!, $p: ID) { createCategory(input: { name: $v, parentId: $p }) { id } }', { p: missing }, auth],
    ['createGearItem.input.name', 'mutation($v: String!, $c: ID) { createGearItem(input: { name: $v, categoryId: $c }) { id } }', { c: missing }, auth],
    ['createGearItem.input.description', 'mutation($v: String, $c: ID) { createGearItem(input: { name: "Hostile", description: $v, categoryId: $c }) { id } }', { c: missing }, auth],
    ['addReview.input.body', 'mutation($v: String, $i: ID!) { addReview(input: { gearItemId: $i, rating: 4, body: $v }) { id } }', { i: missing }],
  ];
  for (const [label, query, extra, headers] of writeArgs) {
    cases.push(...typeCases(label, query, [...STRING_WRONG_TYPE, ...SQL, ...ODD_TEXT, ...NUL_TEXT, LONG], extra, headers));
  }
  // Names that are empty or too long after trimming.
  for (const v of ['', '   ', '\t\n', 'n'.repeat(201), ` ${'n'.repeat(201)} `]) {
    cases.push({ label: `createCategory.input.name = ${v.length} chars`, query: 'mutation($v: String!) { createCategory(input: { name: $v }) { id } }', variables: { v }, headers: auth, expect: BAD });
  }
  cases.push({ label: 'addReview.input.body over 10,000', query: 'mutation($v: String, $i: ID!) { addReview(input: { gearItemId: $i, rating: 4, body: $v }) { id } }', variables: { v: 'b'.repeat(10_001), i: item }, expect: BAD });
  // Whole inputs missing, null or with unknown fields.
  for (const [name, shape] of [['createCategory', 'CreateCategoryInput'], ['createGearItem', 'CreateGearItemInput'], ['addReview', 'AddReviewInput']]) {
    for (const v of [null, {}, { name: 'x', gearItemId: item, rating: 3, sql: 'drop table gear_item' }, 'x', []]) {
      cases.push({ label: `${name}.input = ${JSON.stringify(v)}`, query: `mutation($v: ${shape}!) { ${name}(input: $v) { id } }`, variables: { v }, headers: auth, expect: BAD });
    }
  }

  // Global ids: wrong JSON types fail coercion; any string is looked up and, unknown, is null.
  cases.push(...typeCases('node.nodeId', 'query($v: ID!) { node(nodeId: $v) { nodeId } }', [...ID_WRONG_TYPE, null]));
  const forgedIds = [['GearItem', -1], ['GearItem', 2_147_483_648], ['GearItem', '1'], ['gear_item', 1], ['GearItem', 1, 2], ["GearItem'; --", 1], { GearItem: 1 }];
  for (const v of [...ID_BAD_VALUE, ...SQL, ...ODD_TEXT, ...forgedIds.map((f) => Buffer.from(JSON.stringify(f)).toString('base64'))]) {
    cases.push({ label: `node.nodeId = ${encode(v).slice(0, 40)}`, query: 'query($v: ID!) { node(nodeId: $v) { nodeId } }', variables: { v }, expect: 'data' });
  }
  cases.push(
    ...typeCases('nodes.nodeIds', 'query($v: [ID!]!) { nodes(nodeIds: $v) { nodeId } }', [null, [null], [true], [{}], Array.from({ length: 101 }, () => 'x'), Array.from({ length: 1000 }, (_, i) => String(i))]),
  );

  // Filter combinators: bounded in depth and terms; wrong shapes fail coercion.
  let deep: Record<string, unknown> = { nameContains: 'a' };
  for (let i = 0; i < 40; i++) deep = i % 2 ? { not: deep } : { and: [deep] };
  const filter = 'query($v: GearItemFilter) { gearItems(filter: $v) { totalCount } }';
  cases.push(
    ...typeCases('gearItems.filter (combinators)', filter, [
      deep,
      { or: Array.from({ length: 1000 }, (_, i) => ({ reviewCount: { eq: i } })) },
      { and: Array.from({ length: 60 }, () => ({})) , or: Array.from({ length: 60 }, () => ({ nameContains: 'a' })) },
      { not: 'x' },
      { or: [null] },
      { and: [{ categoryId: "1' OR '1'='1" }] },
      { not: { reviewRating: { gte: new Raw('1e400') } } },
      { or: [{ nameContains: 'a\u0000b' }] },
    ]),
  );

  // View names: looked up, never used as identifiers; one unknown name refreshes nothing.
  const refresh = 'mutation($v: [String!]) { refreshViews(views: $v) { refreshed { name } } }';
  for (const v of [
    ['nope'],
    ['gear_item_stats; DROP TABLE gear_item'],
    ['GEAR_ITEM_STATS'],
    [' gear_item_stats'],
    ['public.gear_item_stats'],
    ['"gear_item_stats"'],
    ['gear_item'],
    ['pg_class'],
    [''],
    ['gear_item_stats', 'nope'],
    ['gear_item_stats\u0000'],
    [LONG],
    Array.from({ length: 50 }, (_, i) => `v${i}`),
    ...SQL.map((s) => [s]),
    [null],
    [1],
    [{}],
  ]) {
    cases.push({ label: `refreshViews.views = ${JSON.stringify(v).slice(0, 40)}`, query: refresh, variables: { v }, headers: auth, expect: BAD });
  }

  return cases;
}

/** Cursors: every edit of a real one, ones from another order, filter or list, and made-up ones. */
async function cursorCases(): Promise<Case[]> {
  const page = async (query: string, variables: Record<string, unknown> = {}) => {
    const a = await send(encode({ query, variables }));
    return a.body as { data: Record<string, { pageInfo: { endCursor: string }; reviews?: { pageInfo: { endCursor: string } } }> };
  };
  const byId = (await page('{ gearItems(first: 1) { pageInfo { endCursor } } }')).data.gearItems.pageInfo.endCursor;
  const byName = (await page('{ gearItems(first: 1, orderBy: [{ field: NAME }]) { pageInfo { endCursor } } }')).data.gearItems.pageInfo.endCursor;
  const review = (await page(`{ gearItem(id: "${ids.item}") { reviews(first: 1) { pageInfo { endCursor } } } }`)).data.gearItem.reviews!.pageInfo.endCursor;
  const [format, body, mac] = byId.split('.');
  const v = `${format}.`;
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const forged = (key: unknown) => `${v}${Buffer.from(JSON.stringify(key)).toString('base64url')}.${mac}`;
  const tampered = [
    flip(byId, v.length),
    flip(byId, byId.length - 1),
    `${v}${body}.`,
    `${v}.${mac}`,
    `${v}${body}.${mac}.${mac}`,
    v + body,
    `${body}.${mac}`,
    `v0.${body}.${mac}`,
    byName,
    review,
    forged(["1' OR '1'='1"]),
    forged([1e308]),
    forged({ id: 1 }),
    forged([null, null, null]),
    'not-a-cursor',
    '',
    '.',
    'x'.repeat(3000),
    `${byId}\u0000`,
    ...SQL,
  ];
  const items = 'query($v: String) { gearItems(after: $v) { totalCount } }';
  const itemsFiltered = 'query($v: String) { gearItems(after: $v, filter: { nameContains: "a" }) { totalCount } }';
  const reviews = `query($v: String) { gearItem(id: "${ids.item}") { reviews(after: $v) { totalCount } } }`;
  const itemsBefore = 'query($v: String) { gearItems(last: 2, before: $v) { totalCount } }';
  const reviewsBefore = `query($v: String) { gearItem(id: "${ids.item}") { reviews(last: 2, before: $v) { totalCount } } }`;
  return [
    ...typeCases('gearItems.before', itemsBefore, [...tampered.filter((c) => c !== byId), ...STRING_WRONG_TYPE]),
    ...typeCases('GearItem.reviews.before', reviewsBefore, [...tampered.filter((c) => c !== review), byId, ...STRING_WRONG_TYPE]),
    ...typeCases('gearItems.after', items, [...tampered.filter((c) => c !== byId), ...STRING_WRONG_TYPE]),
    ...typeCases('gearItems.after (filtered)', itemsFiltered, [byId]),
    ...typeCases('GearItem.reviews.after', reviews, [...tampered.filter((c) => c !== review), byId, ...STRING_WRONG_TYPE]),
  ];
}

function tokenCases(): Case[] {
  // Passing the token check reaches the empty name: BAD_USER_INPUT says the token was taken.
  const query = 'mutation { createCategory(input: { name: "" }) { id } }';
  const t = OPS_TOKEN;
  const variants: [string, Record<string, string | string[]>, string][] = [
    ['none', {}, 'UNAUTHENTICATED'],
    ['empty', { authorization: '' }, 'UNAUTHENTICATED'],
    ['"Bearer"', { authorization: 'Bearer' }, 'UNAUTHENTICATED'],
    ['"Bearer " only', { authorization: 'Bearer ' }, 'UNAUTHENTICATED'],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`ops:${t}`).toString('base64')}` }, 'UNAUTHENTICATED'],
    ['Token scheme', { authorization: `Token ${t}` }, 'UNAUTHENTICATED'],
    ['bare token', { authorization: t }, 'UNAUTHENTICATED'],
    ['two tokens in one header', { authorization: `Bearer ${t} ${t}` }, 'UNAUTHENTICATED'],
    ['comma-joined tokens', { authorization: `Bearer ${t}, Bearer ${t}` }, 'UNAUTHENTICATED'],
    ['token split by a space', { authorization: `Bearer ${t.slice(0, 5)} ${t.slice(5)}` }, 'UNAUTHENTICATED'],
    ['two Authorization headers, right one first', { authorization: [`Bearer ${t}`, 'Bearer wrong'] }, 'UNAUTHENTICATED'],
    ['two Authorization headers, right one second', { authorization: ['Bearer wrong', `Bearer ${t}`] }, 'UNAUTHENTICATED'],
    ['two identical Authorization headers', { authorization: [`Bearer ${t}`, `Bearer ${t}`] }, 'UNAUTHENTICATED'],
    ['wrong token', { authorization: 'Bearer wrong' }, 'FORBIDDEN'],
    ['token plus a character', { authorization: `Bearer ${t}x` }, 'FORBIDDEN'],
    ['token minus a character', { authorization: `Bearer ${t.slice(0, -1)}` }, 'FORBIDDEN'],
    ['token in upper case', { authorization: `Bearer ${t.toUpperCase()}` }, 'FORBIDDEN'],
    ['very long token', { authorization: `Bearer ${'t'.repeat(8000)}` }, 'FORBIDDEN'],
    ['latin-1 token', { authorization: `Bearer ${t}é` }, 'FORBIDDEN'],
    ['SQL as token', { authorization: "Bearer '||pg_sleep(5)||'" }, 'FORBIDDEN'],
    // RFC 9110: the scheme is case-insensitive and whitespace around the token is not part of it.
    ['lowercase "bearer"', { authorization: `bearer ${t}` }, 'BAD_USER_INPUT'],
    ['token with surrounding whitespace', { authorization: `Bearer   ${t}  ` }, 'BAD_USER_INPUT'],
  ];
  const ops: [string, string][] = [
    ['createCategory', query],
    ['createGearItem', 'mutation { createGearItem(input: { name: "" }) { id } }'],
    ['refreshViews', 'mutation { refreshViews(views: ["nope"]) { refreshed { name } } }'],
  ];
  return ops.flatMap(([op, q]) => variants.map(([label, headers, code]): Case => ({ label: `${op} token: ${label}`, query: q, headers, expect: [code] })));
}

/** Bodies that are not a GraphQL request at all, or one over a limit. */
function requestCases(): { label: string; body: string; headers?: Record<string, string>; expect: string[] }[] {
  const aliases = Array.from({ length: 200 }, (_, i) => `a${i}: gearItems(first: 100) { totalCount }`).join(' ');
  let deep = 'id';
  for (let i = 0; i < 40; i++) deep = `parent { ${deep} }`;
  const V = ['GRAPHQL_VALIDATION_FAILED'];
  // Apollo's own codes for a request it cannot take as GraphQL at all.
  const REQ = ['BAD_REQUEST', 'BAD_USER_INPUT'];
  return [
    { label: 'not JSON', body: '{"query": ', expect: BAD as unknown as string[] },
    { label: 'NaN literal in JSON', body: '{"query":"query($v: Float) { gearItems(filter: { reviewRating: { eq: $v } }) { totalCount } }","variables":{"v":NaN}}', expect: [...BAD] },
    { label: 'JSON null', body: 'null', expect: [...BAD] },
    { label: 'JSON string', body: '"{ __typename }"', expect: [...BAD] },
    { label: 'batched array', body: encode([{ query: '{ __typename }' }, { query: '{ __typename }' }]), expect: REQ },
    { label: 'query not a string', body: encode({ query: 123 }), expect: REQ },
    { label: 'variables not an object', body: encode({ query: '{ __typename }', variables: 'x' }), expect: REQ },
    { label: 'no query', body: encode({ variables: {} }), expect: REQ },
    { label: 'unknown operationName', body: encode({ query: 'query A { __typename }', operationName: 'B' }), expect: ['OPERATION_RESOLUTION_FAILURE'] },
    { label: 'parse error', body: encode({ query: '{ gearItems(first: ) }' }), expect: ['GRAPHQL_PARSE_FAILED'] },
    { label: 'SQL as the query', body: encode({ query: 'SELECT * FROM gear_item' }), expect: ['GRAPHQL_PARSE_FAILED'] },
    { label: 'unknown field', body: encode({ query: '{ gearItem(id: "1") { password } }' }), expect: V },
    { label: 'introspection in production', body: encode({ query: '{ __schema { types { name } } }' }), expect: V },
    { label: 'fragment cycle', body: encode({ query: '{ category(id: "1") { ...A } } fragment A on Category { parent { ...B } } fragment B on Category { parent { ...A } }' }), expect: V },
    // Over the token cap: refused while parsing, before validation.
    { label: 'alias flood', body: encode({ query: `{ ${aliases} }` }), expect: ['GRAPHQL_PARSE_FAILED'] },
    { label: 'alias flood under the token cap', body: encode({ query: `{ ${Array.from({ length: app.config.limits.maxAliases + 1 }, (_, i) => `a${i}: gearItem(id: "1") { id }`).join(' ')} }` }), expect: V },
    { label: 'too deep', body: encode({ query: `{ category(id: "1") { ${deep} } }` }), expect: V },
    { label: 'too costly', body: encode({ query: '{ gearItems(first: 100) { edges { node { reviews(first: 100) { edges { node { body } } } } } } }' }), expect: [...BAD] },
    { label: 'body over the limit', body: encode({ query: '{ __typename }', pad: 'x'.repeat(200 * 1024) }), expect: [...BAD] },
    { label: 'text/plain (CSRF)', body: encode({ query: '{ __typename }' }), headers: { 'content-type': 'text/plain' }, expect: REQ },
    { label: 'mutation as GET-able plain form', body: 'query=mutation{addReview}', headers: { 'content-type': 'application/x-www-form-urlencoded' }, expect: REQ },
  ];
}

// ---- the suite ---------------------------------------------------------------------------

beforeAll(async () => {
  // Rate limits are tested in test/attacks.test.ts; here every input must reach the resolvers.
  app = await createTestApp({ PORT: '0', HOST: '127.0.0.1', NODE_ENV: 'production', RATE_LIMIT: 'off' });
  server = await startServer(createServices(app.db, app.config, app.services.log));
  base = `http://127.0.0.1:${server.port}`;
  const root = await addCategory(app.sql, 'Camping');
  const child = await addCategory(app.sql, 'Stoves', root);
  const item = await addItem(app.sql, 'Trail Stove', child, { description: 'light' });
  const other = await addItem(app.sql, 'Dome Tent', root);
  await addReviews(app.sql, item, [5, 3, 4]);
  await addReviews(app.sql, other, [2]);
  await refreshViews(app.sql);
  ids = { root, child, item, other };
});

afterAll(async () => {
  await server?.stop();
  await app?.close();
});

describe('hostile inputs', () => {
  it('answers each with a clear error, leaks nothing and changes no data', async () => {
    const before = await fingerprint();
    const cases = [...generate(), ...(await cursorCases()), ...tokenCases()];
    const requests = requestCases();
    const wrong: string[] = [];
    for (const c of cases) {
      const a = await send(encode({ query: c.query, variables: c.variables }), c.headers);
      const codes = (a.body.errors ?? []).map((e) => e.extensions?.code);
      if (c.expect === 'data') {
        if (a.body.errors || a.status !== 200) wrong.push(`${c.label}: expected data, got ${a.text.slice(0, 200)}`);
      } else if (!codes.length || !codes.every((code) => (c.expect as readonly string[]).includes(code as string))) {
        wrong.push(`${c.label}: expected ${c.expect.join('|')}, got ${a.status} ${a.text.slice(0, 200)}`);
      }
      const leak = LEAK.exec(errorTexts(c, a));
      if (leak) wrong.push(`${c.label}: leaks "${leak[0]}": ${errorTexts(c, a).slice(0, 200)}`);
      if (/"data":\{[^}]*"(createCategory|createGearItem|addReview|refreshViews)":\{/.test(a.text)) wrong.push(`${c.label}: a write succeeded`);
    }
    for (const r of requests) {
      const a = await send(r.body, r.headers);
      const codes = (a.body.errors ?? []).map((e) => e.extensions?.code);
      if (!codes.length || !codes.every((code) => r.expect.includes(code as string)) || a.status < 400) {
        wrong.push(`${r.label}: expected ${r.expect.join('|')} with a 4xx, got ${a.status} ${a.text.slice(0, 200)}`);
      }
      const leak = LEAK.exec((a.body.errors ?? []).map((e) => e.message).join('\n'));
      if (leak) wrong.push(`${r.label}: leaks "${leak[0]}"`);
    }
    expect(wrong).toEqual([]);
    expect(cases.length + requests.length).toBeGreaterThanOrEqual(200);
    console.info(`hostile inputs tried: ${cases.length + requests.length}`);
    expect(await fingerprint()).toEqual(before);
  });

  it('stores SQL and odd unicode literally when the write is legal, touching nothing else', async () => {
    const before = await fingerprint();
    const names = [...SQL, ...ODD_TEXT];
    const created: { id: string; name: string }[] = [];
    for (const name of names) {
      const a = await send(encode({ query: 'mutation($n: String!) { createCategory(input: { name: $n }) { id name } }', variables: { n: name } }), auth);
      expect(a.body.errors).toBeUndefined();
      created.push((a.body.data as { createCategory: { id: string; name: string } }).createCategory);
    }
    // A lone surrogate cannot be stored as UTF-8: it comes back as U+FFFD, like any UTF-8 decoder's.
    const stored = (s: string) => Buffer.from(s.trim(), 'utf8').toString('utf8');
    expect(created.map((c) => c.name)).toEqual(names.map(stored));
    for (const c of created) {
      const a = await send(encode({ query: 'query($id: ID!) { category(id: $id) { name } }', variables: { id: c.id } }));
      expect(a.body.data).toEqual({ category: { name: c.name } });
    }
    const after = await fingerprint();
    // Only gear_category grew (and the change stamp the views' staleness reads moved).
    const changed = Object.keys(before).filter((k) => before[k] !== after[k]);
    expect(changed.filter((k) => k !== 'view_source_change')).toEqual(['gear_category']);
    expect(after.gear_category.split(':')[0]).toBe(String(Number(before.gear_category.split(':')[0]) + names.length));
    const { n } = (await app.sql.one<{ n: number }>('select count(*)::int as n from gear_category where id <= $1', [ids.child]))!;
    expect(n).toBe(2);
  });
});
