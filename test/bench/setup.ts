import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { join, relative } from 'node:path';
import { POSTGRAPHILE5_DIR, POSTGRAPHILE_DIR } from './contenders';
import { SCALES, type Scale } from './dataset';

/**
 * Each PostGraphile has an install of its own (the package.json in test/bench/postgraphile
 * and test/bench/postgraphile5): npm ci it when missing or when its lock file changed.
 */
export function ensurePostgraphileInstalled(say: (m: string) => void) {
  for (const dir of [POSTGRAPHILE_DIR, POSTGRAPHILE5_DIR]) {
    const lock = join(dir, 'package-lock.json');
    const installed = join(dir, 'node_modules', '.package-lock.json');
    if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) continue;
    say(`installing PostGraphile for the bench (npm ci in ${relative(process.cwd(), dir) || dir}, once)`);
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'inherit' });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The options `npm run bench` and `npm run bench:cache` share (parseArgs), with their default connections. */
export function timingOptions(connections: string) {
  return {
    scale: { type: 'string', default: 'small' },
    duration: { type: 'string', default: '6' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: connections },
    out: { type: 'string', default: 'bench/results' },
    help: { type: 'boolean', default: false },
  } as const;
}

export function scaleOf(value: string | undefined): Scale {
  if (value === undefined || !(value in SCALES)) throw new Error(`--scale must be one of ${Object.keys(SCALES).join(', ')}`);
  return value as Scale;
}

export function positive(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number`);
  return n;
}
