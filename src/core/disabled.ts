import { HttpException, HttpStatus } from '@nestjs/common';

/** What an endpoint answers when the feature behind it is switched off: the reason and how to switch it on. */
export interface DisabledDoc {
  disabled: true;
  message: string;
  suggestion: string;
}

function disabledDoc(message: string, suggestion: string): Readonly<DisabledDoc> {
  return Object.freeze({ disabled: true, message, suggestion });
}

/** Request metrics are off (LOG_REQUEST_METRICS=false): the metrics documents and the active-requests stream. */
export const METRICS_DISABLED = disabledDoc('Request metrics are disabled', 'Set LOG_REQUEST_METRICS=true to enable request metrics');

/** The usage store is off: /metrics/usage and /metrics/requests. */
export const STORE_DISABLED = disabledDoc(
  'The usage store is off (VDM_STORE=none, or LOG_REQUEST_METRICS=false)',
  'Set VDM_STORE=sqlite:data/usage.db or VDM_STORE=postgres://... to keep request history',
);

/** The active-requests stream is off while request metrics are on. */
export const SSE_DISABLED = disabledDoc('The active requests stream is disabled', 'Set VDM_ACTIVE_REQUESTS_SSE_ENABLED=true, or poll GET /metrics/active-requests');

/** A refusal whose body is its disabled document, sent as it is rather than as an error body. */
export class DisabledException extends HttpException {
  constructor(readonly doc: Readonly<DisabledDoc>) {
    super({ ...doc }, HttpStatus.SERVICE_UNAVAILABLE);
  }
}
