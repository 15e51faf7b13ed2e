import net from 'node:net';

/**
 * A TCP relay between a server under test and PostgreSQL that counts what the server asks
 * of the database, read off the wire protocol: every Query ('Q') or Execute ('E') message is
 * one statement, every Parse ('P') one statement text parsed (and planned afresh, unless it
 * is a named statement used again). It sees every client library alike and needs nothing
 * on the server (pg_stat_statements is not everywhere), but it adds a hop: it is used only
 * in the verification pass, never while timing.
 */
export interface WireCounter {
  port: number;
  statements: number;
  parses: number;
  /** Statement texts seen in Parse and Query messages, for the record. */
  texts: Set<string>;
  reset(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export async function startWireCounter(target: { host: string; port: number }): Promise<WireCounter> {
  const sockets = new Set<net.Socket>();
  const counter: WireCounter = {
    port: 0,
    statements: 0,
    parses: 0,
    texts: new Set(),
    reset() {
      counter.statements = 0;
      counter.parses = 0;
      counter.texts.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let pending: Buffer = Buffer.alloc(0);
    let startup = true;
    client.on('data', (chunk) => {
      upstream.write(chunk);
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      // Complete messages only; a message cut across chunks waits for the rest.
      for (;;) {
        if (startup) {
          if (pending.length < 8) break;
          const len = pending.readInt32BE(0);
          if (pending.length < len) break;
          const code = pending.readInt32BE(4);
          startup = code === SSL_REQUEST || code === GSSENC_REQUEST;
          pending = pending.subarray(len);
          continue;
        }
        if (pending.length < 5) break;
        const len = pending.readInt32BE(1) + 1;
        if (pending.length < len) break;
        const type = String.fromCharCode(pending[0]);
        if (type === 'Q' || type === 'E') counter.statements++;
        if (type === 'Q') counter.texts.add(cstring(pending, 5));
        if (type === 'P') {
          counter.parses++;
          const nameEnd = pending.indexOf(0, 5);
          counter.texts.add(cstring(pending, nameEnd + 1));
        }
        pending = pending.subarray(len);
      }
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  counter.port = (server.address() as net.AddressInfo).port;
  return counter;
}

function cstring(buf: Buffer, start: number): string {
  return buf.toString('utf8', start, buf.indexOf(0, start)).replace(/\s+/g, ' ').trim();
}
