import { Command } from 'commander';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestBroker, type IngestBroker } from '../ingest/index.js';
import { registerAssetCommands } from './assets.js';

/** Runs `continuum <args>` with only the asset commands, collecting what it prints. */
async function run(...args: string[]): Promise<string> {
  let printed = '';
  const program = new Command('continuum').exitOverride();
  registerAssetCommands(program, { write: (text) => void (printed += text) });
  await program.parseAsync(['node', 'continuum', ...args]);
  return printed;
}

describe('continuum assets run and bench asset', () => {
  let broker: IngestBroker;
  let url: string;

  beforeAll(async () => {
    broker = await startIngestBroker({ kind: 'embedded', port: 0, host: '127.0.0.1' });
    url = `mqtt://127.0.0.1:${broker.port ?? 0}`;
  });

  afterAll(() => broker.close());

  it('publishes --count IMU frames without labels on the given topic and reports the counters', async () => {
    const listener = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    const bodies: Record<string, unknown>[] = [];
    listener.on('message', (_t, body) => bodies.push(JSON.parse(body.toString('utf8')) as Record<string, unknown>));
    await listener.subscribeAsync('shop/worker1', { qos: 1 });
    const printed = await run('assets', 'run', 'imu', '--broker', url, '--count', '6', '--rate', '100', '--topic', 'shop/worker1', '--seed', '9', '--no-label', '--json');
    expect(JSON.parse(printed)).toEqual({ kind: 'imu', topic: 'shop/worker1', format: 'json', sent: 6, acked: 6, failed: 0 });
    const deadline = Date.now() + 5000;
    while (bodies.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(bodies).toHaveLength(6);
    expect(bodies[0]).not.toHaveProperty('label');
    expect(Object.keys(bodies[0] ?? {})).toEqual(['leftAccX', 'leftAccY', 'leftAccZ', 'leftGyroX', 'leftGyroY', 'leftGyroZ', 'rightAccX', 'rightAccY', 'rightAccZ', 'rightGyroX', 'rightGyroY', 'rightGyroZ', 'seq', 'ts']);
    await listener.endAsync();
  });

  it('refuses an unknown asset and format by name', async () => {
    await expect(run('assets', 'run', 'lathe', '--broker', url)).rejects.toThrow(/expected one of pcb, imu/);
    await expect(run('assets', 'run', 'pcb', '--format', 'xml')).rejects.toThrow(/expected one of json, databus/);
  });

  it('refuses a workflow no virtual asset can feed before starting anything', async () => {
    await expect(run('bench', 'asset', '--workflow', 'workflows/iris')).rejects.toThrow(/iris: its inputs match no virtual asset/);
  });
});
