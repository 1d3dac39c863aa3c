import { clientErrorTypeForStatus } from '../core/error-table';
import type { ErrorFormat } from '../core/route-facts';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The error body in a route's error format. */
export function errorBody(flavor: ErrorFormat, status: number, message: string, type?: string, openaiCode?: string): object {
  switch (flavor) {
    case 'anthropic':
      return { type: 'error', error: { type: type ?? clientErrorTypeForStatus('anthropic', status), message } };
    case 'openai':
      return {
        error: {
          message,
          type: type ?? openaiCode ?? clientErrorTypeForStatus('openai', status),
          param: null,
          code: openaiCode ?? null,
        },
      };
    case 'generic':
      return { statusCode: status, error: REASONS[status] ?? 'Error', message };
  }
}
