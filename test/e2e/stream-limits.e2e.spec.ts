import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_EVENT_CHARS } from '../../src/gateway/protocol/event-relay';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';
import { lastTrace } from '../support/use-gateway';

const MiB = 1024 * 1024;
const PIECE = Buffer.alloc(64 * 1024, 'x');
/** The fake's own bound: it never sends more than this, however long the gateway keeps reading. */
const FAKE_LIMIT_BYTES = 64 * MiB;

/**
 * An upstream that answers 200 with an event stream whose one event never ends: a `data:` line, then
 * `x` without a line break. It pauses after `pauseAfterBytes` until `resume()` is called.
 */
class EndlessEventUpstream {
  sent = 0;
  socketClosed = false;
  private readonly server: http.Server;
  private paused?: () => void;
  private readonly pausedAt: Promise<void>;
  private readonly resumed: Promise<void>;
  resume!: () => void;

  private constructor(private readonly pauseAfterBytes: number) {
    let reached!: () => void;
    this.pausedAt = new Promise((resolve) => (reached = resolve));
    this.paused = reached;
    this.resumed = new Promise((resolve) => (this.resume = resolve));
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => void this.answer(req, res));
    });
  }

  static async start(pauseAfterBytes: number): Promise<EndlessEventUpstream> {
    const sut = new EndlessEventUpstream(pauseAfterBytes);
    await new Promise<void>((resolve) => sut.server.listen(0, '127.0.0.1', resolve));
    return sut;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once the fake has sent `pauseAfterBytes` and waits. */
  reachedPause(): Promise<void> {
    return this.pausedAt;
  }

  async close(): Promise<void> {
    this.resume();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.socket.on('close', () => (this.socketClosed = true));
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const anthropic = req.url === '/v1/messages';
    res.write(
      anthropic
        ? 'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"'
        : 'data: {"choices":[{"index":0,"delta":{"content":"',
    );
    while (!this.socketClosed && this.sent < FAKE_LIMIT_BYTES) {
      if (this.sent >= this.pauseAfterBytes && this.paused) {
        this.paused();
        this.paused = undefined;
        await this.resumed;
        continue;
      }
      this.sent += PIECE.length;
      if (!res.write(PIECE))
        await new Promise<void>((resolve) => {
          // Both listeners go once either fires, so a long stream under back-pressure does not pile them up.
          const done = (): void => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
    }
  }
}

let upstream: EndlessEventUpstream | undefined;
let gw: RunningApp | undefined;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = undefined;
  upstream = undefined;
});

async function boot(): Promise<RunningApp> {
  upstream = await EndlessEventUpstream.start(8 * MiB);
  gw = await startApp({
    ANTHROPIC_API_KEY: 'sk-ant-upstream',
    ANTHROPIC_BASE_URL: upstream.url,
    OPENAI_API_KEY: 'sk-openai-upstream',
    OPENAI_BASE_URL: `${upstream.url}/v1`,
    STREAMING_READ_TIMEOUT_SECONDS: '60',
  });
  return gw;
}

async function summary(app: RunningApp): Promise<{ total_requests: number; total_errors: number }> {
  const doc = (await (await fetch(`${app.url}/metrics/running-totals?format=json`)).json()) as {
    summary: { total_requests: number; total_errors: number };
  };
  return doc.summary;
}

const clients = {
  'Anthropic passthrough': async (app: RunningApp): Promise<unknown> => {
    const client = new Anthropic({ apiKey: 'client', baseURL: app.url, maxRetries: 0 });
    return client.messages
      .stream({ model: 'anthropic:claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .finalMessage();
  },
  'OpenAI passthrough': async (app: RunningApp): Promise<unknown> => {
    const client = new OpenAI({ apiKey: 'client', baseURL: `${app.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'openai:gpt-x',
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    const chunks: unknown[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  },
  'Anthropic to an OpenAI-format provider': async (app: RunningApp): Promise<unknown> => {
    const client = new Anthropic({ apiKey: 'client', baseURL: app.url, maxRetries: 0 });
    return client.messages
      .stream({ model: 'openai:gpt-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .finalMessage();
  },
};

describe('an upstream event that never ends', () => {
  it.each(Object.entries(clients))(
    '%s: cut at the event limit, the client gets an error, the upstream is closed',
    async (_label, run) => {
      const app = await boot();
      const answer = run(app).then(
        () => undefined,
        (error: unknown) => error,
      );

      // Half an event held: the gateway still answers other requests.
      await upstream!.reachedPause();
      const health = await fetch(`${app.url}/health`);
      expect(health.status).toBe(200);
      expect(upstream!.socketClosed).toBe(false);
      upstream!.resume();

      const error = await answer;
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain('without ending');
      await eventually(() => upstream!.socketClosed);
      // Closed near the limit, not after the fake gave up on its own.
      expect(upstream!.sent).toBeGreaterThan(MAX_EVENT_CHARS);
      expect(upstream!.sent).toBeLessThan(FAKE_LIMIT_BYTES / 2);

      await eventually(() => app.tracker.activeCount === 0);
      expect(await lastTrace(app)).toMatchObject({
        status: 'error',
        error_type: 'streaming_error',
        is_streaming: true,
      });
      expect(await summary(app)).toMatchObject({ total_requests: 1, total_errors: 1 });
    },
  );
});
