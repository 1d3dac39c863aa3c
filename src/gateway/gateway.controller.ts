import { Body, Controller, Get, Headers, HttpCode, Param, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiRoute, CountedRoute, ProxyRoute } from '../core/route.decorator';
import { CountTokensCounter } from '../metrics/count-tokens';
import { ProxyContext, RequestOrchestrator, type ProxyRequestContext } from './request/request-orchestrator.interceptor';
import { ModelsService, type ModelEntry, type ModelList } from './models.service';
import { ProxyService, type ProxyResponse } from './proxy.service';

type ClientHeaders = Record<string, string | string[] | undefined>;

function send(reply: FastifyReply, response: ProxyResponse): ProxyResponse['body'] {
  void reply.type(response.contentType);
  if (response.headers) void reply.headers(response.headers);
  if (response.contentType.startsWith('text/event-stream')) void reply.header('cache-control', 'no-cache').header('x-accel-buffering', 'no');
  return response.body;
}

@Controller('v1')
export class GatewayController {
  constructor(
    private readonly proxy: ProxyService,
    private readonly models: ModelsService,
    private readonly countTokensCalls: CountTokensCounter,
  ) {}

  @Post('messages')
  @ProxyRoute('anthropic_messages')
  @HttpCode(200)
  @UseInterceptors(RequestOrchestrator)
  async messages(
    @Body() body: unknown,
    @Headers() headers: ClientHeaders,
    @ProxyContext() call: ProxyRequestContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProxyResponse['body']> {
    return send(reply, await this.proxy.proxy('anthropic_messages', body, headers, call));
  }

  /** Not a model call: answered, and counted apart from requests, tokens and cost (vdm_count_tokens_requests_total). */
  @Post('messages/count_tokens')
  @CountedRoute('anthropic_count_tokens')
  @HttpCode(200)
  async countTokens(
    @Body() body: unknown,
    @Headers() headers: ClientHeaders,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProxyResponse['body']> {
    return send(reply, await this.proxy.countTokens(body, headers, this.countTokensCalls.begin(request)));
  }

  @Post('chat/completions')
  @ProxyRoute('openai_chat')
  @HttpCode(200)
  @UseInterceptors(RequestOrchestrator)
  async chatCompletions(
    @Body() body: unknown,
    @Headers() headers: ClientHeaders,
    @ProxyContext() call: ProxyRequestContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProxyResponse['body']> {
    return send(reply, await this.proxy.proxy('openai_chat', body, headers, call));
  }

  @Post('responses')
  @ProxyRoute('openai_responses')
  @HttpCode(200)
  @UseInterceptors(RequestOrchestrator)
  async responses(
    @Body() body: unknown,
    @Headers() headers: ClientHeaders,
    @ProxyContext() call: ProxyRequestContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProxyResponse['body']> {
    return send(reply, await this.proxy.proxy('openai_responses', body, headers, call));
  }

  @Post('embeddings')
  @ProxyRoute('openai_embeddings')
  @HttpCode(200)
  @UseInterceptors(RequestOrchestrator)
  async embeddings(
    @Body() body: unknown,
    @Headers() headers: ClientHeaders,
    @ProxyContext() call: ProxyRequestContext,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProxyResponse['body']> {
    return send(reply, await this.proxy.proxy('openai_embeddings', body, headers, call));
  }

  @Get('models')
  @ApiRoute('openai')
  list(): ModelList {
    return this.models.list();
  }

  /** One model, as the OpenAI SDK's models.retrieve() and clients that check a model before use ask for it. */
  @Get('models/:id')
  @ApiRoute('openai')
  one(@Param('id') id: string): ModelEntry {
    return this.models.one(id);
  }
}
