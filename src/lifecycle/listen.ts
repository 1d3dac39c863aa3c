import { getSystemErrorMap } from 'node:util';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Why the gateway cannot listen, in one line: `Cannot listen on 0.0.0.0:8082: address already in use (EADDRINUSE)`. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/** `app.listen`, with a system error (port in use, an address not on this machine, a host that does not resolve) as a ListenError. */
export async function listen(app: NestFastifyApplication, host: string, port: number): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    const { code, errno, message } = error as NodeJS.ErrnoException;
    if (code === undefined) throw error;
    const reason = (typeof errno === 'number' ? getSystemErrorMap().get(errno)?.[1] : undefined) ?? message;
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    throw new ListenError(`Cannot listen on ${where}: ${reason} (${code})`, { cause: error });
  }
}
