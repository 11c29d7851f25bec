/**
 * Compiles src/ to dist/ once before the suites run, so end-to-end tests exercise the same
 * `bin/continuum.js` a user runs, never a stale build; and builds the web console into
 * dist/console when it is missing or older than console/. Type errors are reported but do not stop
 * the run (tsc still emits): the unit suites and `npm run typecheck` speak to those; a failed
 * console build is reported here and fails the console's own suite.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from '../console/build.js';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.json`], { cwd: root, encoding: 'utf8' });
  if (tsc.status !== 0) process.stderr.write(`tsc reported errors while building dist/ for the end-to-end tests:\n${tsc.stdout}${tsc.stderr}\n`);
  try {
    ensureConsoleBuilt(root);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  }
}
