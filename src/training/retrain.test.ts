import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../registry/index.js';
import { compileRetrainBinding, initialRetrainState, RetrainController, retrainBindingSchema, retrainStarted, shouldRetrain } from './retrain.js';
import type { FiringDriftAlert, RetrainBinding, RetrainDecision } from './retrain.js';
import { packWorkflowDirectory } from './workflow-pack.js';
import { WorkflowService } from './workflow-service.js';
import type { SamplesWindow } from './workflow.js';

const HOUR = 3_600_000;
const MIN = 60_000;

function binding(patch: Partial<Parameters<typeof compileRetrainBinding>[1]> = {}): RetrainBinding {
  return compileRetrainBinding('pcb', retrainBindingSchema.parse({ datasource: 'line-1', deployment: 'pcb', everyMs: HOUR, onDriftAlert: true, windowMs: HOUR, ...patch }));
}

const idle = { running: false, driftAlertSinceMs: null };

describe('shouldRetrain', () => {
  it('trains on the schedule, counting from the binding and then from the last start, on the latest window', () => {
    const b = binding({ onDriftAlert: false });
    const state = initialRetrainState(0);
    expect(shouldRetrain(b, state, idle, HOUR - 1)).toEqual({ retrain: false, reason: 'not due' });
    const due = shouldRetrain(b, state, idle, HOUR);
    expect(due).toEqual({ retrain: true, trigger: 'schedule', fromMs: 0, toMs: HOUR, driftAlertMs: null });
    const after = retrainStarted(state, due as Extract<RetrainDecision, { retrain: true }>, 7, HOUR);
    expect(shouldRetrain(b, after, idle, 2 * HOUR - 1).retrain).toBe(false);
    expect(shouldRetrain(b, after, idle, 2 * HOUR)).toMatchObject({ retrain: true, trigger: 'schedule', fromMs: HOUR, toMs: 2 * HOUR });
  });

  it('trains once per firing drift alert, never while a run is in progress nor within the minimum gap', () => {
    const b = binding({ everyMs: undefined, minGapMs: 15 * MIN });
    const state = initialRetrainState(0);
    const alert = { running: false, driftAlertSinceMs: 5 * MIN };
    expect(shouldRetrain(b, state, { ...alert, running: true }, 6 * MIN)).toEqual({ retrain: false, reason: 'a run is in progress' });
    const drift = shouldRetrain(b, state, alert, 6 * MIN);
    expect(drift).toEqual({ retrain: true, trigger: 'drift', fromMs: 6 * MIN - HOUR, toMs: 6 * MIN, driftAlertMs: 5 * MIN });
    const after = retrainStarted(state, drift as Extract<RetrainDecision, { retrain: true }>, 1, 6 * MIN);
    // The same alert still firing: answered already.
    expect(shouldRetrain(b, after, alert, 60 * MIN)).toEqual({ retrain: false, reason: 'not due' });
    // A new alert within the gap waits for the gap, then trains.
    const next = { running: false, driftAlertSinceMs: 10 * MIN };
    expect(shouldRetrain(b, after, next, 20 * MIN)).toEqual({ retrain: false, reason: 'within the minimum gap after the last run' });
    expect(shouldRetrain(b, after, next, 21 * MIN)).toMatchObject({ retrain: true, trigger: 'drift', driftAlertMs: 10 * MIN });
  });

  it('ignores drift alerts when the binding does not follow them', () => {
    expect(shouldRetrain(binding({ onDriftAlert: false }), initialRetrainState(0), { running: false, driftAlertSinceMs: 1 }, MIN)).toEqual({ retrain: false, reason: 'not due' });
  });

  it('refuses a binding with nothing to trigger it or drift without a deployment', () => {
    expect(retrainBindingSchema.safeParse({ datasource: 's', windowMs: HOUR }).success).toBe(false);
    expect(retrainBindingSchema.safeParse({ datasource: 's', windowMs: HOUR, onDriftAlert: true }).success).toBe(false);
    expect(retrainBindingSchema.safeParse({ datasource: 's', windowMs: HOUR, everyMs: 1000 }).success).toBe(false);
    expect(binding({ everyMs: 5 * MIN }).minGapMs).toBe(5 * MIN);
  });
});

describe('RetrainController with a workflow service', () => {
  let dir: string;
  let registry: Registry;
  let service: WorkflowService;
  const windows: { source: string; fromMs?: number; toMs?: number }[] = [];
  const releases: { model: string; ref: string; deployment?: string }[] = [];
  let alerts: FiringDriftAlert[] = [];

  // Two sensors; class 'error' samples read high on both. One sample a second, labelled.
  const samples: SamplesWindow = {
    fields: ['m01', 'm02'],
    rows: Array.from({ length: 240 }, (_, i) => {
      const error = Math.floor(i / 4) % 2 === 1;
      return { ts: i * 1000, values: [(error ? 5 : 1) + ((i * 7) % 5) / 10, (error ? 8 : 2) + ((i * 3) % 7) / 10], label: error ? 'error' : 'ok' };
    }),
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'continuum-retrain-'));
    registry = Registry.open(join(dir, 'data'));
    service = new WorkflowService({
      dataDir: join(dir, 'data'),
      registry,
      samples: {
        window: (source, range) => {
          windows.push({ source, ...range });
          return samples;
        },
      },
      startRelease: (input) => {
        releases.push(input);
        return { id: releases.length };
      },
    });
    const pkg = join(dir, 'pcb');
    const fixture = new URL('../../test/fixtures/workflows/iris-mlp/', import.meta.url);
    const manifest = { ...(JSON.parse(readFileSync(new URL('manifest.json', fixture), 'utf8')) as object), name: 'pcb', inputs: ['m01', 'm02'], classes: ['ok', 'error'], window: { size: 2, hop: 2 } };
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'manifest.json'), JSON.stringify(manifest));
    writeFileSync(join(pkg, 'train.js'), readFileSync(new URL('train.js', fixture)));
    await service.push(await packWorkflowDirectory(pkg));
  });

  afterAll(async () => {
    await service.close();
    registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retrains on the latest window when a drift alert fires, pushes a version with its lineage and releases it to the deployment', async () => {
    service.setRetraining('pcb', { datasource: 'line-1', deployment: 'pcb-line', onDriftAlert: true, windowMs: 10 * MIN });
    const controller = new RetrainController({ workflows: service, driftAlerts: () => alerts, logError: (err) => { throw err; } });
    const now = Date.now();
    expect(controller.tick(now)).toEqual([]);

    alerts = [{ deployment: 'pcb-line', startsAtMs: now - 1000 }];
    const [id] = controller.tick(now);
    expect(id).toBeDefined();
    // One run at a time: a second tick while it trains starts nothing.
    expect(controller.tick(now + 1)).toEqual([]);
    const run = await service.settled('pcb', id as number);
    if (run.status !== 'succeeded') throw new Error(run.error);
    expect(run.input).toMatchObject({ datasource: 'line-1', trigger: 'drift', from: new Date(now - 10 * MIN).toISOString(), to: new Date(now).toISOString() });
    expect(windows.at(-1)).toMatchObject({ source: 'line-1', fromMs: now - 10 * MIN, toMs: now });
    expect(run.log[0]).toBe('dataset: 120 rows of 4 values, classes ok, error');
    expect(run.metrics?.['testAccuracy']).toBeGreaterThanOrEqual(0.9);
    expect(registry.getVersion('pcb', run.modelVersion as string).labels).toMatchObject({ workflow: 'pcb', datasource: 'line-1', 'workflow-run': String(id) });
    expect(releases).toEqual([{ model: 'pcb', ref: run.modelVersion, deployment: 'pcb-line' }]);
    expect(run.releaseId).toBe(1);

    // The same alert, still firing after the gap, has been answered.
    expect(controller.tick(now + 11 * MIN)).toEqual([]);
    expect(service.bindings()[0]?.state).toMatchObject({ lastRunId: id, handledDriftAlertMs: now - 1000 });
  });
});
