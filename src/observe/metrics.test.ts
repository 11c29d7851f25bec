import { describe, expect, it } from 'vitest';
import { ContinuumError } from '../errors.js';
import type { InferResponse } from '../oip/types.js';
import type { InferOptions } from '../runtime/index.js';
import { ContinuumMetrics } from './metrics.js';
import { HistogramCells, RequestMetrics, RequestObserver } from './metrics-requests.js';

const answer = (version: string): InferResponse => ({ model_name: 'm', model_version: version, outputs: [] });

/** The value of the exposition line `name{labels}` (labels as prom-client prints them), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function setUp(queued = 0): { requests: RequestMetrics; observer: RequestObserver; metrics: ContinuumMetrics } {
  const requests = new RequestMetrics();
  const metrics = new ContinuumMetrics({ requests, runtime: { queueDepths: () => [{ name: 'm', version: '3', queued }] }, deployments: { all: () => [] } });
  return { requests, observer: new RequestObserver(requests, undefined), metrics };
}

describe('request metrics', () => {
  it('puts an observation on a bucket bound into that bucket (Prometheus le is inclusive)', () => {
    const cells = new HistogramCells([1, 2, 4]);
    for (const v of [0.5, 1, 1.5, 2, 4, 9]) cells.observe(v);
    expect(Array.from(cells.counts)).toEqual([2, 2, 1, 1]);
    expect([cells.count, cells.sum]).toEqual([6, 18]);
  });

  it('counts answers by model, version, deployment and status, with the batcher timing in seconds', async () => {
    const { observer, metrics, requests } = setUp(2);
    const timed = (o: InferOptions): Promise<InferResponse> => {
      o.onTiming?.({ queueUs: 300, computeUs: 1200, batchSize: 4 });
      return Promise.resolve(answer('3'));
    };
    for (let i = 0; i < 3; i++) await observer.observe('m', undefined, '', undefined, timed);
    // A deployment's route names the model and version it chose.
    await observer.observe('d', undefined, 'd', {}, (o) => {
      o.onRouted?.('candidate', 'm', '4');
      return Promise.resolve(answer('4'));
    });
    await expect(
      observer.observe('m', undefined, '', undefined, () => Promise.reject(new ContinuumError('CONTINUUM_ERR_QUEUE_FULL', 'full'))),
    ).rejects.toThrow('full');
    const { body, contentType } = await metrics.scrape();
    expect(contentType).toContain('text/plain');
    expect(sample(body, 'continuum_inference_requests_total{model="m",version="3",deployment="",code="200"}')).toBe(3);
    expect(sample(body, 'continuum_inference_requests_total{model="m",version="4",deployment="d",code="200"}')).toBe(1);
    expect(sample(body, 'continuum_inference_requests_total{model="m",version="",deployment="",code="429"}')).toBe(1);
    expect(sample(body, 'continuum_inference_request_duration_seconds_count{model="m",version="3",deployment=""}')).toBe(3);
    expect(sample(body, 'continuum_inference_queue_duration_seconds_bucket{le="0.00025",model="m",version="3",deployment=""}')).toBe(0);
    expect(sample(body, 'continuum_inference_queue_duration_seconds_bucket{le="0.0005",model="m",version="3",deployment=""}')).toBe(3);
    expect(sample(body, 'continuum_inference_compute_duration_seconds_sum{model="m",version="3",deployment=""}')).toBeCloseTo(0.0036, 9);
    expect(sample(body, 'continuum_inference_batch_size_bucket{le="4",model="m",version="3",deployment=""}')).toBe(3);
    expect(sample(body, 'continuum_inference_batch_size_bucket{le="2",model="m",version="3",deployment=""}')).toBe(0);
    // Untimed requests (a deployment answer without timing) add no queue sample.
    expect(sample(body, 'continuum_inference_queue_duration_seconds_count{model="m",version="4",deployment="d"}')).toBeUndefined();
    expect(sample(body, 'continuum_inference_requests_in_flight{deployment=""}')).toBe(0);
    expect(sample(body, 'continuum_inference_queue_depth{model="m",version="3",deployment=""}')).toBe(2);
    expect(sample(body, 'continuum_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect([...requests.all()].length).toBe(3);
  });

  it('counts requests in flight while they are served', async () => {
    const { observer, metrics } = setUp();
    let release: (r: InferResponse) => void = () => undefined;
    const pending = observer.observe('m', '3', '', undefined, () => new Promise((resolve) => (release = resolve)));
    expect(sample((await metrics.scrape()).body, 'continuum_inference_requests_in_flight{deployment=""}')).toBe(1);
    release(answer('3'));
    await pending;
    expect(sample((await metrics.scrape()).body, 'continuum_inference_requests_in_flight{deployment=""}')).toBe(0);
  });

  it('does not let a client create series by naming models or versions that do not exist', async () => {
    const { observer, metrics, requests } = setUp();
    for (const name of ['nope-1', 'nope-2']) {
      await expect(observer.observe(name, '9', '', undefined, () => Promise.reject(new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', 'no model')))).rejects.toThrow();
    }
    await expect(observer.observe('m', 'x', '', undefined, () => { throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', 'no version'); })).rejects.toThrow();
    expect([...requests.all()].map((s) => [s.model, s.version])).toEqual([['', '']]);
    expect(sample((await metrics.scrape()).body, 'continuum_inference_requests_total{model="",version="",deployment="",code="404"}')).toBe(3);
  });

  it('counts cold starts, their latency and scaling decisions from deployment events; energy when a source is set', async () => {
    const { metrics } = setUp();
    metrics.onDeploymentEvent('d', 'baseline', 'cold-start', { latencyMs: 420 });
    metrics.onDeploymentEvent('d', 'baseline', 'decision', { from: 0, to: 2 });
    metrics.onDeploymentEvent('d', 'baseline', 'decision', { from: 2, to: 1 });
    metrics.onDeploymentEvent('d', 'baseline', 'decision', { from: 1, to: 1, mode: 'serverless' });
    metrics.onDeploymentEvent('d', 'baseline', 'replica-started', { replica: 'r1' });
    let body = (await metrics.scrape()).body;
    expect(sample(body, 'continuum_deployment_cold_starts_total{deployment="d",track="baseline"}')).toBe(1);
    expect(sample(body, 'continuum_deployment_cold_start_duration_seconds_bucket{le="0.25",deployment="d",track="baseline"}')).toBe(0);
    expect(sample(body, 'continuum_deployment_cold_start_duration_seconds_bucket{le="0.5",deployment="d",track="baseline"}')).toBe(1);
    expect(sample(body, 'continuum_deployment_scaling_events_total{deployment="d",track="baseline",direction="up"}')).toBe(1);
    expect(sample(body, 'continuum_deployment_scaling_events_total{deployment="d",track="baseline",direction="down"}')).toBe(1);
    expect(body).not.toMatch(/^continuum_energy_joules_total\{/m);
    metrics.setEnergySource(() => [{ deployment: 'd', mode: 'tdp', joules: 12.5 }]);
    body = (await metrics.scrape()).body;
    expect(sample(body, 'continuum_energy_joules_total{deployment="d",mode="tdp"}')).toBe(12.5);
  });
});
