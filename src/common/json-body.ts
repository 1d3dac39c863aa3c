import { BadRequestException } from '@nestjs/common';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Deepest nesting of arrays and objects a request body may have. Real requests (tool schemas,
 * tool inputs) nest a few dozen levels; the recursive walks over a body (conversion, token
 * estimates, JSON.stringify of the upstream body) overflow the stack at some thousands.
 */
export const MAX_JSON_DEPTH = 512;

export const TOO_DEEP_MESSAGE = `Request body is nested too deeply (more than ${MAX_JSON_DEPTH} levels)`;

/** Whether `value` nests arrays and objects more than `max` levels; iterative, so any depth is safe to measure. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const pending: object[] = [value];
  const depths: number[] = [1];
  const visit = (child: unknown, depth: number): void => {
    if (typeof child === 'object' && child !== null) {
      pending.push(child);
      depths.push(depth);
    }
  };
  while (pending.length > 0) {
    const node = pending.pop()!;
    const depth = depths.pop()!;
    if (depth > max) return true;
    // Indexed and for-in loops: no array of values allocated per node (a quarter of the cost).
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) visit(node[i], depth + 1);
    } else {
      for (const key in node) visit((node as Record<string, unknown>)[key], depth + 1);
    }
  }
  return false;
}

/** The callback form of a body parser, the one Fastify's default JSON parser has (lib/content-type-parser.js). */
type CallbackParser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => void;

/**
 * Fastify's own JSON parser (secure-json-parse: proto poisoning refused, empty and invalid bodies
 * answered as before), then the depth check, so nothing recursive ever sees a deeper body. A refusal
 * reaches GlobalExceptionFilter like any parser error, which answers and accounts it.
 */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  const parse = fastify.getDefaultJsonParser('error', 'error') as CallbackParser;
  fastify.addContentTypeParser<string>('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body, (error, value) => {
      if (error) done(error, undefined);
      else if (nestedDeeperThan(value, MAX_JSON_DEPTH)) done(new BadRequestException(TOO_DEEP_MESSAGE), undefined);
      else done(null, value);
    });
  });
}
