/**
 * Runs `bin/continuum.js` as a child process the way a user does, and reads what it prints.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A running CLI process with everything it printed so far. */
export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything printed on stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

/** Starts `continuum ARGS...` with the given environment additions. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [`${ROOT}bin/continuum.js`, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    exited,
    output: () => text,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = text.match(pattern);
          if (m !== null) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${String(pattern)}; output so far:\n${text}`));
        }, timeoutMs);
        const onExit = (): void => {
          done();
          reject(new Error(`process exited before printing ${String(pattern)}; output:\n${text}`));
        };
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.on('exit', onExit);
        check();
      });
    },
  };
}

/**
 * A function that runs `continuum ARGS... --server URL` to the end and returns what it printed;
 * a non-zero exit fails with the output.
 */
export function cliAgainst(serverUrl: string): (...args: string[]) => Promise<string> {
  return async (...args) => {
    const p = runCli([...args, '--server', serverUrl]);
    const code = await p.exited;
    if (code !== 0) throw new Error(`continuum ${args.join(' ')} exited ${String(code)}:\n${p.output()}`);
    return p.output();
  };
}
