import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import http from 'node:http';
import { freeLoopbackPort } from '../support/replication';

// What the reliability script drives: tally server processes (the built dist/src/main.js, as
// ops would run it) and a client that times and classifies every answer.

export const OPS_TOKEN = 'reliability-ops-token-0123456789';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free loopback port (taken from the kernel, then released for the child to bind). */
export const freePort = freeLoopbackPort;

export interface ServerProcess {
  base: string;
  child: ChildProcess;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** Lines the server logged (pino JSON), for the report's evidence. */
  logs: string[];
}

/** Starts `node dist/src/main.js` with `env` on a free port and waits until /readyz answers 200. */
export async function startServerProcess(env: Record<string, string>, readyWithinMs = 120_000): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve('dist/src/main.js')], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', OPS_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() && logs.length < 5000) logs.push(line);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  let gone = false;
  void exited.then(() => (gone = true));
  while (Date.now() < deadline && !gone) {
    if ((await readyz(base)).status === 200) return { base, child, exited, logs };
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error(`server on port ${port} was not ready within ${readyWithinMs} ms:\n${logs.slice(-20).join('\n')}`);
}

export async function stopServerProcess(p: ServerProcess, limitMs = 20_000): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), limitMs);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

export async function readyz(base: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  } catch {
    return { status: 0, ms: performance.now() - t0 };
  }
}

/** One answer as the client saw it. */
export interface Outcome {
  /** When it was sent, ms since the script started. */
  at: number;
  ms: number;
  /** 'ok', a GraphQL error code, or a transport failure (ECONNREFUSED, TIMEOUT, ...). */
  code: string;
  data?: unknown;
}

const T0 = performance.now();
export const now = () => performance.now() - T0;

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });
const fresh = new http.Agent({ keepAlive: false });
/** Keep-alive agents bound to one loopback address each: a client the server sees as its own IP. */
const fromAddress = new Map<string, http.Agent>();
const agentFrom = (localAddress: string) => {
  let agent = fromAddress.get(localAddress);
  if (!agent) fromAddress.set(localAddress, (agent = new http.Agent({ keepAlive: true, maxSockets: 8, localAddress })));
  return agent;
};

/**
 * POSTs one GraphQL request with node:http (its agent can be told not to reuse sockets, so a
 * stopping server is seen as refused, not as a reset keep-alive socket). The client gives up
 * after `timeoutMs`: no request hangs the script.
 */
export function gql(
  base: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: { token?: string; timeoutMs?: number; reuse?: boolean; localAddress?: string } = {},
): Promise<Outcome> {
  const at = now();
  const body = JSON.stringify({ query, variables });
  return new Promise((done) => {
    const finish = (code: string, data?: unknown) => done({ at, ms: now() - at, code, data });
    const req = http.request(
      `${base}/graphql`,
      {
        method: 'POST',
        agent: opts.localAddress ? agentFrom(opts.localAddress) : opts.reuse === false ? fresh : keepAlive,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? 'RESPONSE_ERROR'));
        res.on('end', () => {
          try {
            const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
            if (json.errors?.length) finish(json.errors[0].extensions?.code ?? 'UNCODED_ERROR', json.data);
            else finish(res.statusCode === 200 ? 'ok' : `HTTP_${res.statusCode}`, json.data);
          } catch {
            finish(`HTTP_${res.statusCode}_NOT_JSON`);
          }
        });
      },
    );
    req.on('timeout', () => {
      req.destroy();
      finish('CLIENT_TIMEOUT');
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? 'REQUEST_ERROR'));
    req.end(body);
  });
}

/**
 * `clients` closed-loop clients, each sending `next()` until `untilMs` (script time) or
 * `maxEach` requests, whichever is first: bounded in time and in count. Not autocannon (as
 * the bench uses): here every answer is classified by its GraphQL error code and placed in
 * time against the outage or the signal, and requests vary (cursors, writes with markers).
 */
export async function closedLoop(
  clients: number,
  untilMs: number,
  next: (client: number, i: number) => Promise<Outcome>,
  maxEach = 100_000,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < maxEach && now() < untilMs; i++) {
        const o = await next(c, i);
        out.push(o);
        // A failing request must not turn the loop into a busy spin.
        if (o.code !== 'ok') await sleep(20);
      }
    }),
  );
  return out;
}

export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function countBy(outcomes: readonly Outcome[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const o of outcomes) c[o.code] = (c[o.code] ?? 0) + 1;
  return c;
}

export const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(1) : '-');
