/**
 * Compiles src/ to dist/ once before the suites run, so end-to-end tests exercise the same
 * `bin/continuum.js` a user runs, never a stale build. Type errors are reported but do not stop
 * the run (tsc still emits): the unit suites and `npm run typecheck` speak to those.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.json`], { cwd: root, encoding: 'utf8' });
  if (tsc.status !== 0) process.stderr.write(`tsc reported errors while building dist/ for the end-to-end tests:\n${tsc.stdout}${tsc.stderr}\n`);
}
