import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './contenders';
import { tallyQuery, type CaseName } from './queries';

const USAGE = `npm run bench:profile -- [--scale small|medium] [--case page|filtered|tree] [--duration 10] [--connections 8] [--root DIR] [--out bench/results/profile]

A V8 CPU profile of tally (node --cpu-prof, dist/src/main.js as \`npm start\` runs it, NODE_ENV=production)
under a closed-loop load of one query, on the bench database (run \`npm run bench -- --scale …\` once
to create it), and a table of where the time goes by phase, from each sample's call stack.
--root: another checkout's build to profile (its dist/), for a before/after table.
Writes .data/profiles/<case>-<label>.cpuprofile (open it in Chrome DevTools) and <out>/<case>-<label>.md.`;

/**
 * Phases, from a sample's stack. The innermost frame of a known module decides, except that
 * serialisation and GC are named by what runs: JSON.stringify of the response is attributed to
 * "serialisation" wherever it is called from. Node core frames (http, net, streams, events)
 * that no known module called fall to "HTTP (Node core)".
 */
const PHASES: { name: string; test: (url: string, fn: string) => boolean }[] = [
  { name: 'SQL client (node-postgres, pg-sql2, src/database)', test: (u) => /node_modules\/(pg|pg-protocol|pg-types|pg-pool|pg-sql2|postgres-[a-z]+|pgpass)\//.test(u) || /dist\/src\/database\//.test(u) },
  { name: 'the /graphql endpoint and body parsing (src/http, body-parser, guards)', test: (u) => /node_modules\/(body-parser|raw-body|iconv-lite|content-type|type-is|media-typer|bytes)\//.test(u) || /dist\/src\/(http|security\/document-shape|cache)/.test(u) },
  { name: 'express (router, CORS, response)', test: (u) => /node_modules\/(express|router|finalhandler|send|etag|fresh|vary|cors|on-finished|parseurl|path-to-regexp|accepts|negotiator|mime-types|qs|depd|proxy-addr)\//.test(u) },
  { name: 'validation and cost (graphql rules, limits, cost model)', test: (u) => /node_modules\/graphql\/validation\//.test(u) || /node_modules\/(graphql-query-complexity|@escape\.tech)\//.test(u) || /dist\/src\/(limits|security)\//.test(u) },
  { name: 'parsing the query (graphql language)', test: (u) => /node_modules\/graphql\/language\//.test(u) },
  { name: 'resolvers (type-graphql, tally modules, DataLoader)', test: (u) => /node_modules\/(type-graphql|dataloader)\//.test(u) || /dist\/src\/(modules|direct-resolvers|schema)/.test(u) },
  { name: 'execution (graphql-js, graphql-jit)', test: (u) => /node_modules\/graphql\/(execution|type|utilities|jsutils|error)\//.test(u) || /node_modules\/graphql-jit\//.test(u) || /dist\/src\/execution\//.test(u) },
  { name: 'Apollo Server pipeline and plugins', test: (u) => /node_modules\/(@apollo|@as-integrations|@graphql-tools|lru-cache|@wry|uuid|whatwg-mimetype|negotiator)\//.test(u) || /dist\/src\/(server|context|read-routing|metrics|errors)/.test(u) },
  { name: 'logging and metrics (pino, prom-client)', test: (u) => /node_modules\/(pino|prom-client|sonic-boom)\//.test(u) },
];
const SERIALISE = /^(prettyJSONStringify|stringify)$/;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export function phaseTable(profile: CpuProfile): { rows: { phase: string; ms: number; share: number }[]; totalMs: number; top: { fn: string; url: string; ms: number }[] } {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const phaseOf = new Map<number, string>();
  const classify = (id: number): string => {
    const known = phaseOf.get(id);
    if (known) return known;
    const leaf = byId.get(id)!.callFrame;
    let phase: string | undefined;
    if (leaf.functionName === '(garbage collector)') phase = 'GC';
    else if (leaf.functionName === '(idle)') phase = 'idle';
    else if (leaf.functionName === '(program)') phase = 'V8/native, no JS stack (program)';
    // Native socket writes, whoever asked: the HTTP response and the SQL protocol alike.
    else if (!leaf.url && /^(writev|writeUtf8String|writeBuffer|writeLatin1String|writeAsciiString)$/.test(leaf.functionName)) phase = 'socket writes (native writev: responses and SQL)';
    else if (/^(wrapSafe|readFileUtf8|compileFunction|internalModuleStat)$/.test(leaf.functionName)) phase = 'start-up (module loading)';
    for (let at: number | undefined = id; !phase && at !== undefined; at = parent.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      if (SERIALISE.test(functionName) && /@apollo|JSON/.test(url + functionName)) phase = 'serialisation (JSON.stringify of the response)';
    }
    for (let at: number | undefined = id; !phase && at !== undefined; at = parent.get(at)) {
      const { url, functionName } = byId.get(at)!.callFrame;
      phase = PHASES.find((p) => p.test(url, functionName))?.name;
    }
    phase ??= 'HTTP (Node core: parser, streams, sockets, timers)';
    phaseOf.set(id, phase);
    return phase;
  };
  const ms = new Map<string, number>();
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const phase = classify(id);
    ms.set(phase, (ms.get(phase) ?? 0) + dt);
    self.set(id, (self.get(id) ?? 0) + dt);
    if (phase !== 'idle') total += dt;
  });
  const rows = [...ms]
    .filter(([p]) => p !== 'idle')
    .map(([phase, t]) => ({ phase, ms: t, share: t / total }))
    .sort((a, b) => b.ms - a.ms);
  const fnMs = new Map<string, { fn: string; url: string; ms: number }>();
  for (const [id, t] of self) {
    const { functionName, url } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const key = `${functionName}\u0000${url}`;
    const e = fnMs.get(key) ?? { fn: functionName || '(anonymous)', url: url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/'), ms: 0 };
    e.ms += t;
    fnMs.set(key, e);
  }
  const top = [...fnMs.values()].sort((a, b) => b.ms - a.ms).slice(0, 25);
  return { rows, totalMs: total, top };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => res(port));
    });
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: 'small' },
      case: { type: 'string', default: 'page' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '5' },
      connections: { type: 'string', default: '8' },
      root: { type: 'string', default: ROOT },
      label: { type: 'string' },
      out: { type: 'string', default: 'bench/results/profile' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const c = values.case as CaseName;
  const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const u = new URL(base);
  u.pathname = `/tally_bench_${values.scale}`;
  const root = resolve(values.root!);
  const label = values.label ?? (root === ROOT ? 'current' : root.split('/').pop()!);
  const out = resolve(ROOT, values.out!);
  mkdirSync(out, { recursive: true });
  const profDir = join(ROOT, '.data', `cpu-prof-${process.pid}`);
  mkdirSync(profDir, { recursive: true });
  const port = await freePort();
  // The same environment the bench gives tally (contenders.ts).
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    DATABASE_URL: u.toString(),
    HOST: '127.0.0.1',
    PORT: String(port),
    DEMO_DATA: 'false',
    RATE_LIMIT: 'off',
    RATE_LIMIT_POINTS: '1000000000',
    HEAVY_QUERY_COST: '100000000',
    HTTP_MAX_CONNECTIONS_PER_ADDRESS: '0',
    // The uncached pipeline, as in the main comparison (BENCH_RESPONSE_CACHE=on profiles hits).
    RESPONSE_CACHE: process.env.BENCH_RESPONSE_CACHE ?? 'off',
  };
  delete env.LOG_LEVEL;
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, join(root, 'dist', 'src', 'main.js')], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}/graphql`;
  const body = JSON.stringify({ query: tallyQuery(c, 1) });
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (r.status === 200) break;
    } catch {
      if (i > 240) throw new Error('tally did not start');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const load = (seconds: number) =>
    new Promise<autocannon.Result>((res, rej) =>
      autocannon(
        { url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: Number(values.connections), duration: seconds },
        (err, result) => (err ? rej(err) : res(result)),
      ),
    );
  const warm = await load(Number(values.warmup));
  // The profile covers start-up and warm-up too; the table is only as good as the load's share of it.
  const result = await load(Number(values.duration));
  child.kill('SIGTERM');
  await exited;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
  const name = `${c}-${label}`;
  // Profiles are large and machine-specific: kept out of git, under .data/.
  const profiles = join(ROOT, '.data', 'profiles');
  mkdirSync(profiles, { recursive: true });
  writeFileSync(join(profiles, `${name}.cpuprofile`), JSON.stringify(profile));
  rmSync(profDir, { recursive: true, force: true });
  const { rows, totalMs, top } = phaseTable(profile);
  const reqs = result.requests.total;
  // The profile spans warm-up and timed load alike: per request over both.
  const all = reqs + warm.requests.total;
  const L = [
    `# Where tally's CPU goes: ${c}, ${values.connections} connections, ${values.duration} s (${label})`,
    '',
    `${reqs} requests (${Math.round(result.requests.average)}/s, ${result.non2xx} non-2xx); CPU in the profile (whole run, start-up included, idle excluded): ${totalMs.toFixed(0)} ms.`,
    `Command: \`npm run bench:profile -- ${process.argv.slice(2).join(' ')}\`. Machine load average: ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(', ')}.`,
    '',
    `| phase | ms | share | µs per request (${all} requests, warm-up included) |`,
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.phase} | ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)}% | ${((r.ms * 1000) / all).toFixed(0)} |`),
    `| **all** | ${totalMs.toFixed(0)} | 100% | ${((totalMs * 1000) / all).toFixed(0)} |`,
    '',
    '| top functions (self time) | where | ms |',
    '|---|---|---|',
    ...top.map((t) => `| ${t.fn} | ${t.url || '(native)'} | ${t.ms.toFixed(0)} |`),
    '',
  ];
  writeFileSync(join(out, `${name}.md`), L.join('\n'));
  console.log(L.join('\n'));
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
