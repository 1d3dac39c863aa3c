import { createServer, connect, type Server, type Socket } from 'node:net';

export interface CommitCutter {
  /** A PostgreSQL URL that goes through the proxy. */
  url: string;
  /** The next `n` COMMITs reach the server, which commits them, but their replies never reach the client. */
  cutNextCommits(n: number): void;
  /** COMMITs cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of a PostgreSQL server that reads the frontend protocol (startup
 * message, then typed messages: a type byte and an int32 length) to find simple-query COMMITs. A cut
 * COMMIT is forwarded; when the server's reply (CommandComplete, ReadyForQuery) arrives, the proxy
 * drops it and closes both sides, so the server has committed and the client sees a broken connection.
 */
export async function startCommitCutter(serverUrl: string): Promise<CommitCutter> {
  const target = new URL(serverUrl);
  let armed = 0;
  let cuts = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let started = false;
    let cutting = false;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('error', end);
    upstream.on('error', end);

    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!started) {
          if (pending.length < 4) return;
          const length = pending.readInt32BE(0);
          if (pending.length < length) return;
          // An SSLRequest (code 80877103) is followed by the startup message proper.
          started = !(length === 8 && pending.readInt32BE(4) === 80877103);
          pending = pending.subarray(length);
          continue;
        }
        if (pending.length < 5) return;
        const length = pending.readInt32BE(1);
        if (pending.length < 1 + length) return;
        const type = String.fromCharCode(pending[0]);
        const body = pending.subarray(5, 1 + length);
        pending = pending.subarray(1 + length);
        if (type === 'Q' && armed > 0 && /^\s*commit\b/i.test(body.toString('utf8'))) {
          armed--;
          cutting = true;
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!cutting) {
        client.write(chunk);
        return;
      }
      // The server answered the COMMIT: it is durable there, and the client never learns it.
      cuts++;
      end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = new URL(serverUrl);
  url.hostname = '127.0.0.1';
  url.port = String(address.port);
  return {
    url: url.toString(),
    cutNextCommits: (n) => {
      armed += n;
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
