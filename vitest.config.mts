import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

/**
 * The suite in four lanes (`vitest run --project <name>`); `npm test` runs all of them.
 * - unit: the specs beside the code and the specs under test/ that start no server: seconds in all.
 * - e2e: the app on a loopback port against upstream fakes, real clients, SQLite and PostgreSQL.
 * - browser: the dashboard in chromium.
 * - slow: the soaks and the e2e specs that take tens of seconds each.
 * A spec under test/ is e2e unless listed below; every spec belongs to exactly one lane.
 */
const UNIT_UNDER_TEST = [
  'test/architecture.spec.ts',
  'test/dashboard/**/*.spec.ts',
  'test/packaging/**/*.spec.ts',
  'test/support/require-binary.spec.ts',
];
const BROWSER = ['test/browser/**/*.spec.ts'];
const SLOW = [
  'test/soak/**/*.spec.ts',
  'test/e2e/body-refusals.e2e.spec.ts',
  'test/e2e/usage-store.e2e.spec.ts',
  'test/e2e/usage-store-postgres.e2e.spec.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Nest apps under test bind real loopback ports; two cores, so keep workers few.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.spec.ts', ...UNIT_UNDER_TEST] } },
      { extends: true, test: { name: 'e2e', include: ['test/**/*.spec.ts'], exclude: [...UNIT_UNDER_TEST, ...BROWSER, ...SLOW] } },
      { extends: true, test: { name: 'browser', include: BROWSER } },
      { extends: true, test: { name: 'slow', include: SLOW } },
    ],
  },
  // Nest dependency injection needs decorator metadata, which esbuild does not emit.
  plugins: [swc.vite({ module: { type: 'es6' } })],
});
