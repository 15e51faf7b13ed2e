// npm run dev: TypeScript's incremental watch build, and the server restarted after every
// build that compiles without errors. The server is stopped with SIGTERM and waited for, so
// the embedded PostgreSQL stops cleanly before the next start takes it up again.
import { spawn } from 'node:child_process';

const tscArgs = ['-b', 'tsconfig.build.json', '--watch', '--preserveWatchOutput'];
const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', ...tscArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
let server = null;
let stopping = false;
let pending = false;

function startServer() {
  server = spawn(process.execPath, ['--enable-source-maps', 'dist/src/main.js'], { stdio: 'inherit' });
  const child = server;
  child.on('exit', (code, signal) => {
    if (server === child) server = null;
    if (!stopping && !pending) console.error(`[dev] server exited (${signal ?? code}); it restarts after the next successful build`);
  });
}

async function stopServer() {
  const child = server;
  if (!child) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function restart() {
  if (pending) return;
  pending = true;
  if (server) console.error('[dev] change compiled: restarting the server');
  await stopServer();
  pending = false;
  if (!stopping) startServer();
}

let buffer = '';
tsc.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  buffer += chunk;
  const lines = buffer.split('\n');
  buffer = lines.pop();
  for (const line of lines) {
    const m = /Found (\d+) errors?\. Watching for file changes/.exec(line);
    if (m && m[1] === '0') void restart();
    else if (m) console.error('[dev] not restarting: fix the errors above');
  }
});
tsc.on('exit', (code) => {
  if (!stopping) console.error(`[dev] tsc exited (${code})`);
  void shutdown(code ?? 1);
});

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  tsc.kill('SIGTERM');
  await stopServer();
  process.exit(code);
}
// Ctrl-C reaches the server too (same process group); wait for it to stop.
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
