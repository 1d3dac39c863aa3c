import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The page's own files: src/dashboard/public under vitest, dist/dashboard/public once built (nest-cli copies them). */
export const DASHBOARD_PUBLIC_DIR = join(__dirname, 'public');

/** The one vendored file the page loads, served straight from the installed npm package. */
export const CHART_JS_FILE = 'chart.umd.js';

/** node_modules/chart.js/dist: its package exports hide dist/chart.umd.js, so resolve the CJS entry beside it. */
export function chartJsDistDir(): string {
  const entry = createRequire(__filename).resolve('chart.js');
  const dir = dirname(entry);
  if (!existsSync(join(dir, CHART_JS_FILE))) {
    throw new Error(`chart.js UMD build not found at ${join(dir, CHART_JS_FILE)}`);
  }
  return dir;
}
