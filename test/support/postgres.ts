/**
 * A throwaway PostgreSQL server from Debian's binaries (`apt-get install postgresql`): a fresh
 * cluster in a temporary directory, listening on a Unix socket and a free loopback port. PostgreSQL
 * refuses to run as root, so as root the cluster belongs to the `postgres` user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../bench/processes.js';

const BIN = '/usr/lib/postgresql/15/bin';

/** A running PostgreSQL server and its connection URL. */
export interface TestPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

/** Why PostgreSQL cannot run here, or undefined when it can. */
export function postgresMissing(): string | undefined {
  return existsSync(join(BIN, 'postgres')) ? undefined : `${BIN}/postgres is missing: apt-get install postgresql`;
}

/**
 * True when a suite needing PostgreSQL should be skipped: the binaries are missing and this is not
 * CI (with CI=true the suite runs and fails on the missing binaries, as .ci/run promises).
 */
export function skipWithoutPostgres(): boolean {
  const missing = postgresMissing();
  if (missing === undefined || process.env['CI'] === 'true') return false;
  process.stderr.write(`skipping the PostgreSQL tests: ${missing}\n`);
  return true;
}


/** Starts a fresh cluster; resolves once it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  const missing = postgresMissing();
  if (missing !== undefined) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'continuum-pg-'));
  chmodSync(dir, 0o777);
  const dataDir = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const command = (bin: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(BIN, bin), ...args]] : [join(BIN, bin), args]);
  execFileSync(...command('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']), { stdio: 'ignore' });
  const port = await freePort();
  const child: ChildProcess = spawn(...command('postgres', ['-D', dataDir, '-k', dir, '-p', String(port), '-h', '127.0.0.1', '-c', 'fsync=off']), { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        // "fast" shutdown: clients are disconnected, then the server exits cleanly.
        execFileSync(...command('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast']), { stdio: 'ignore' });
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
