import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { POSTGRAPHILE_DIR } from './contenders';

/** PostGraphile has an install of its own (test/bench/postgraphile): npm ci it when its lock file changed. */
export function ensurePostgraphileInstalled(say: (m: string) => void) {
  const lock = join(POSTGRAPHILE_DIR, 'package-lock.json');
  const installed = join(POSTGRAPHILE_DIR, 'node_modules', '.package-lock.json');
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing PostGraphile for the bench (npm ci in test/bench/postgraphile, once)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: POSTGRAPHILE_DIR, stdio: 'inherit' });
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
