import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLimited, ResponseTooLargeError } from './read-limited';

describe(readLimited.name, () => {
  it('reads a body within the limit, multi-byte characters split across chunks included', async () => {
    const bytes = Buffer.from('{"text":"héllo ✓"}');
    const body = Readable.from([bytes.subarray(0, 11), bytes.subarray(11)]);
    expect(await readLimited(body, bytes.length)).toBe('{"text":"héllo ✓"}');
  });

  it('stops past the limit and destroys the body', async () => {
    const body = Readable.from([Buffer.alloc(600), Buffer.alloc(600)]);
    await expect(readLimited(body, 1000)).rejects.toBeInstanceOf(ResponseTooLargeError);
    expect(body.destroyed).toBe(true);
  });
});
