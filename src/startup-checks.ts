import net from 'node:net';

/** A start-up problem the person starting tally can fix; main.ts prints its message alone. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

/**
 * Fails fast, naming the variable to change, when something already listens on the port
 * (checked before the database is started or migrated, so nothing runs for a start that
 * cannot serve). Port 0 (any free port) needs no check.
 */
export async function assertPortFree(host: string, port: number, variable: string, what: string): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    probe.once('error', resolve);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
  if (!err) return;
  if (err.code === 'EADDRINUSE') {
    throw new StartupError(
      `Port ${port} for ${what} is already in use on ${host} (${variable}=${port}): set ${variable} to a free port, ` +
        `e.g. ${variable}=${port + 1}, or stop the process that listens there (\`ss -ltnp 'sport = :${port}'\` shows it).`,
    );
  }
  if (err.code === 'EACCES') {
    throw new StartupError(`Not allowed to listen on port ${port} for ${what} (${variable}=${port}): set ${variable} to a port above 1023.`);
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') {
    throw new StartupError(`Cannot listen on ${host}:${port} for ${what}: ${host} is not an address of this machine (set HOST, e.g. HOST=0.0.0.0).`);
  }
  throw new StartupError(`Cannot listen on ${host}:${port} for ${what} (${variable}): ${err.message}`);
}
