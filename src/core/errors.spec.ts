import { describe, expect, it } from 'vitest';
import { ERROR_TYPES } from './error-type';
import { catalogue, errorTypeOfCode, GatewayErrors, isGatewayError } from './errors';

describe('the gateway error catalogue', () => {
  it('gives every code a status, a contract error type and a template', () => {
    const rows = catalogue();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.code).toMatch(/^VDM_[A-Z_]+$/);
      expect(row.status >= 400 && row.status < 600).toBe(true);
      expect(ERROR_TYPES).toContain(row.errorType);
      expect(row.message.length).toBeGreaterThan(0);
    }
  });

  it('makes errors that carry their code and status and fill in their template', () => {
    const error = new GatewayErrors.VDM_UPSTREAM_REDIRECT(307);
    expect(error.code).toBe('VDM_UPSTREAM_REDIRECT');
    expect(error.statusCode).toBe(502);
    expect(error.message).toBe('The upstream answered 307, a redirect the gateway does not follow');
    expect(isGatewayError(error)).toBe(true);
    expect(errorTypeOfCode(error.code)).toBe('upstream_error');
  });

  it('fills a number into a template as it is, fractions included', () => {
    const error = new GatewayErrors.VDM_HISTORY_TIME_LIMIT(0.5);
    expect(error.message).toBe('the history query ran past its time limit of 0.5 s; narrow from/to, add a filter or group by fewer keys');
    expect(error.statusCode).toBe(503);
  });

  it('passes a client-chosen text through a template verbatim', () => {
    expect(new GatewayErrors.VDM_MODEL_NAME('model: 100% %s %d').message).toBe('model: 100% %s %d');
  });

  it('knows no error that is not its own', () => {
    expect(isGatewayError(new Error('x'))).toBe(false);
    expect(isGatewayError(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(false);
  });
});
