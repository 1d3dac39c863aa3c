import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import SummaryReporter from './summary-reporter';
import { CHILD_TIMEOUT_MS, runVitest } from './vitest-child';

const FIXTURES = resolve(__dirname, 'fixtures/summary');

describe(SummaryReporter.name, () => {
  it('counts a suite that fails to load or in a hook as a failure, beside the tests that ran', async () => {
    const run = await runVitest(['--root', FIXTURES]);
    expect(run.output).toContain('this suite throws at import');
    expect(run.output).toContain('this suite fails in beforeAll');
    // mixed: 1 passed, 1 failed, 1 todo; hook-throws: its test skipped, the file failed; import-throws: the file failed.
    expect(run.summary).toBe('1 passed, 3 failed, 2 skipped');
    expect(run.code).toBe(1);
  }, CHILD_TIMEOUT_MS + 20_000);
});
