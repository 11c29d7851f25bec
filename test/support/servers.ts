/**
 * Servers for end-to-end suites: each started in-process on free ports with a temporary data
 * directory, and all of them closed and their directories removed together after a test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/index.js';
import type { RunningServer, ServeOptions } from '../../src/server/index.js';

/** The servers and temporary directories of one suite. */
export class TestServers {
  private readonly servers: RunningServer[] = [];
  private readonly dirs: string[] = [];

  /**
   * @param prefix names the temporary directories (`continuum-<what>-`).
   * @param defaults options every server of the suite starts with, before a call's own.
   */
  constructor(
    private readonly prefix: string,
    private readonly defaults: ServeOptions = {},
  ) {}

  /** A new temporary directory, removed by {@link closeAll}. */
  tempDir(prefix = this.prefix): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Starts a server on free ports, silent, with a 200 ms autoscaler tick, on a new data directory unless `options` names one. */
  async start(options: ServeOptions = {}): Promise<RunningServer> {
    const server = await startServer({ port: 0, grpcPort: 0, logLevel: 'silent', autoscalerTickMs: 200, ...this.defaults, ...options, dataDir: options.dataDir ?? this.tempDir() });
    this.servers.push(server);
    return server;
  }

  /** Closes one server now (a restart in the middle of a test); its data directory stays. */
  async stop(server: RunningServer): Promise<void> {
    this.servers.splice(this.servers.indexOf(server), 1);
    await server.close();
  }

  /** Closes every server still running and removes every temporary directory. */
  async closeAll(): Promise<void> {
    for (const s of this.servers.splice(0)) await s.close();
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
