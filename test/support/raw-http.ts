import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the head of an HTTP/1.1 response; the body is whatever followed it before the socket closed or went idle. */
function parse(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: end === -1 ? '' : raw.slice(end + 4) };
}

/**
 * Writes `head` (and `body`) to the gateway exactly as given, with no URL normalisation, and reads
 * the first response. Resolves once the response head and a full content-length body arrived, the
 * socket closed, or `idleMs` passed without bytes.
 */
export function rawRequest(port: number, head: string, body = '', idleMs = 2_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let raw = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(parse(raw));
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      socket.write(head + body);
      arm();
    });
    socket.on('data', (chunk: string) => {
      raw += chunk;
      arm();
      const parsed = parse(raw);
      const end = raw.indexOf('\r\n\r\n');
      const length = Number(parsed.headers['content-length']);
      if (end !== -1 && Number.isFinite(length) && Buffer.byteLength(parsed.body, 'latin1') >= length) done();
    });
    socket.on('close', done);
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (raw) resolve(parse(raw));
      else reject(error);
    });
  });
}

/** A request head with `connection: close` and the given target, method and headers. */
export function head(method: string, target: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
