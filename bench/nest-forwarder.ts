/**
 * Reference (n): the framework's own floor. The bare forwarder's job (parse, forward with undici,
 * stream the answer back) done the way the gateway is built: NestJS on Fastify, the JSON body parsed,
 * one pass-through interceptor on the route (the gateway's RequestOrchestrator is one). Everything
 * the gateway spends beyond this is its own work; everything this spends beyond (b) is the framework's.
 */
import 'reflect-metadata';
import { Body, Controller, Injectable, Module, Post, Res, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { serveStats } from './support/ipc-stats';

const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:1';
const agent = new Agent({ keepAliveTimeout: 30_000 });

@Injectable()
class PassThrough implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return next.handle();
  }
}

@Controller('v1')
class ForwardController {
  @Post('messages')
  @UseInterceptors(PassThrough)
  async messages(@Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<Readable> {
    const res = await request(`${upstream}/v1/messages`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', 'x-api-key': 'x', 'anthropic-version': '2023-06-01' },
      dispatcher: agent,
    });
    const type = res.headers['content-type'];
    void reply.code(res.statusCode).type(typeof type === 'string' ? type : 'application/json');
    return res.body;
  }
}

@Module({ controllers: [ForwardController], providers: [PassThrough] })
class ForwardModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(ForwardModule, new FastifyAdapter({ bodyLimit: 32 * 1024 * 1024 }), { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ type: 'ready', port: (app.getHttpServer().address() as AddressInfo).port });
}

void main();
serveStats();
process.on('disconnect', () => process.exit(0));
