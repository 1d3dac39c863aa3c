import { describe, expect, it } from 'vitest';
import { levelEnabled } from './logger';

describe(levelEnabled.name, () => {
  it('is true for the logger level and above, false below it and for silent', () => {
    expect(levelEnabled({ level: 'info' }, 'info')).toBe(true);
    expect(levelEnabled({ level: 'info' }, 'warn')).toBe(true);
    expect(levelEnabled({ level: 'info' }, 'debug')).toBe(false);
    expect(levelEnabled({ level: 'trace' }, 'debug')).toBe(true);
    expect(levelEnabled({ level: 'warn' }, 'info')).toBe(false);
    expect(levelEnabled({ level: 'silent' }, 'fatal')).toBe(false);
  });
});
