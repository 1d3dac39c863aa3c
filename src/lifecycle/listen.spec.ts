import net from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { makeConfig } from '../../test/support/factories';
import { createApp } from '../app.factory';
import { listen, ListenError } from './listen';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function app(): Promise<NestFastifyApplication> {
  const sut = await createApp(makeConfig());
  cleanups.push(() => sut.close());
  return sut;
}

async function failure(attempt: Promise<unknown>): Promise<unknown> {
  return attempt.then(() => new Error('listened'), (error: unknown) => error);
}

describe(listen.name, () => {
  it('listens where it is told', async () => {
    const sut = await app();
    await listen(sut, '127.0.0.1', 0);
    const address = sut.getHttpServer().address() as net.AddressInfo;
    expect((await fetch(`http://127.0.0.1:${address.port}/health`)).status).toBe(200);
  });

  it('explains a port in use in one line', async () => {
    const held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => held.close(() => resolve())));
    const { port } = held.address() as net.AddressInfo;

    const error = await failure(listen(await app(), '127.0.0.1', port));
    expect(error).toBeInstanceOf(ListenError);
    expect((error as Error).message).toBe(`Cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)`);
  });

  it('explains a HOST that is not an address of this machine in one line', async () => {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to a local interface.
    const error = await failure(listen(await app(), '192.0.2.1', 8082));
    expect(error).toBeInstanceOf(ListenError);
    expect((error as Error).message).toBe('Cannot listen on 192.0.2.1:8082: address not available (EADDRNOTAVAIL)');
  });
});
