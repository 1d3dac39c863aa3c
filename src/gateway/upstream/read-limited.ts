import type { Readable } from 'node:stream';

export class ResponseTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`The upstream response body is larger than ${limitBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/**
 * Reads a whole upstream body as UTF-8, up to `limitBytes`: past it the body is destroyed (the
 * connection is released) and ResponseTooLargeError thrown, so one upstream cannot exhaust memory.
 */
export async function readLimited(body: Readable, limitBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limitBytes) {
      body.destroy();
      throw new ResponseTooLargeError(limitBytes);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
