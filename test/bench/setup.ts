import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { join, relative } from 'node:path';
import { POSTGRAPHILE5_DIR, POSTGRAPHILE_DIR } from './contenders';

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
