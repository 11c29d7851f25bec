/**
 * Builds the web console (`vite build` → dist/console) when the build is missing or older than any
 * file under console/. `npm start` and the test suites' global setup call it, so the console that
 * is served is never a stale one. Run as a script: `node --import tsx console/build.ts`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The newest modification time (ms) of any file below `dir`; 0 when there is none. */
function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** Whether dist/console under `root` (the package root) is missing or older than console/. */
export function consoleBuildIsStale(root: string): boolean {
  let builtMs: number;
  try {
    builtMs = statSync(join(root, 'dist', 'console', 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  return newestMtimeMs(join(root, 'console')) > builtMs;
}

/** Runs `vite build` for the console when its build is stale; returns whether it built. Throws with Vite's output when the build fails. */
export function ensureConsoleBuilt(root: string): boolean {
  if (!consoleBuildIsStale(root)) return false;
  const vite = spawnSync(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(root, 'console', 'vite.config.ts'), '--logLevel', 'warn'], {
    cwd: root,
    encoding: 'utf8',
    // Under a test runner NODE_ENV is 'test', which would bundle React's development build.
    env: { ...process.env, NODE_ENV: 'production' },
  });
  if (vite.status !== 0) throw new Error(`the console build (vite build) failed:\n${vite.stdout}${vite.stderr}`);
  return true;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stdout.write(ensureConsoleBuilt(root) ? 'console: built dist/console\n' : 'console: dist/console is up to date\n');
}
