/** The timeline SVG and the text report of a simulation. */
import { describe, expect, it } from 'vitest';
import { simulate, type SimulationPolicy, type SimulationResult } from './engine.js';
import { formatSimulationReport } from './report.js';
import { renderTimelineSvg } from './svg.js';
import { generateArrivals } from './workload.js';

/** Replicas follow the load: one per 50 arrivals/s seen in the last tick, at least one. */
const follower: SimulationPolicy<null> = {
  name: 'threshold',
  initialState: null,
  decide: (state, obs) => ({
    decision: { desiredReplicas: Math.max(1, Math.ceil((obs.arrivals * 1000) / obs.intervalMs / 50)), policy: 'threshold', reason: '', inputs: {} },
    state,
  }),
};

function result(durationMs: number): SimulationResult {
  return simulate({
    arrivals: generateArrivals({ profile: 'diurnal', durationMs, baseRatePerS: 10, peakRatePerS: 200, periodMs: durationMs }, 1),
    profile: { model: 'mlp', instances: 1, maxBatchSize: 8, batchLatencyMs: { 1: 2, 8: 5 }, coldStartMs: [800], memoryGb: 1, vcpu: 1 },
    policy: follower,
    costOf: (usage) => usage['always-on'].replicaSeconds * 1e-4,
    sloMs: 50,
  });
}

/** Checks that every element is closed in order (a small well-formedness check for generated XML). */
function expectBalancedTags(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing === '/') continue;
    if (closing === '/') expect(stack.pop()).toBe(name);
    else stack.push(name as string);
  }
  expect(stack).toEqual([]);
  // No stray markup characters outside tags.
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]/);
}

describe('renderTimelineSvg', () => {
  const diurnal = result(600_000);

  it('draws the load as an area and the replicas as step lines on a well-formed SVG', () => {
    const svg = renderTimelineSvg(diurnal, { title: 'diurnal — threshold' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expectBalancedTags(svg);
    expect(svg).toMatch(/<path class="load" d="M[^"]+Z"/);
    const ready = /<polyline class="ready" points="([^"]+)"/.exec(svg)?.[1] ?? '';
    // One point per tick plus a corner per step after the first.
    expect(ready.split(' ').length).toBe(2 * diurnal.timeline.length - 1);
    expect(svg).toContain('<polyline class="desired"');
    for (const text of ['arrivals/s', 'replicas', 'time (s)', 'ready replicas', 'desired replicas', 'diurnal — threshold']) expect(svg).toContain(text);
    // The replica axis reaches the peak: 200/s at 50 per replica asks for 4 or more.
    expect(Math.max(...diurnal.timeline.map((r) => r.desired))).toBeGreaterThanOrEqual(4);
  });

  it('escapes the title', () => {
    const svg = renderTimelineSvg(diurnal, { title: 'a <b> & "c" \'d\'' });
    expectBalancedTags(svg);
    expect(svg).toContain('a &#60;b&#62; &#38; &#34;c&#34; &#39;d&#39;');
    expect(svg).not.toContain('<b>');
  });

  it('keeps a long timeline to about one point per pixel, in minutes', () => {
    const long = result(7_200_000);
    expect(long.timeline.length).toBeGreaterThan(7000);
    const svg = renderTimelineSvg(long, { title: 'two hours', widthPx: 600 });
    expectBalancedTags(svg);
    const ready = /<polyline class="ready" points="([^"]+)"/.exec(svg)?.[1] ?? '';
    expect(ready.split(' ').length).toBeLessThanOrEqual(2 * 472);
    expect(svg).toContain('time (min)');
  });
});

describe('formatSimulationReport', () => {
  it('states the figures of the run', () => {
    const r = result(600_000);
    const text = formatSimulationReport(r);
    expect(text).toContain('policy:');
    expect(text).toContain('threshold');
    expect(text).toContain(`${(r.sloAttainment * 100).toFixed(2)}% within 50 ms`);
    expect(text).toContain(`${r.requests.toLocaleString('en-US')} (`);
    expect(text).toContain(`cold starts:       ${r.coldStarts}`);
    expect(text).toContain(`$${r.costUsd.toFixed(4)}`);
    expect(text).toMatch(/latency: +p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms/);
  });
});
