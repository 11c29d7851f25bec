import { describe, expect, it } from 'vitest';
import { otlpTracesUrl, parseTraceparent } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('trace context from the caller', () => {
  it('reads a W3C traceparent, its sampled flag and tracestate', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, undefined)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`, undefined)?.traceFlags).toBe(0);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'vendor=abc,other=1')?.traceState?.get('vendor')).toBe('abc');
    // A later version may carry more fields; version 00 may not.
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-extra`, undefined)?.traceId).toBe(TRACE);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01-extra`, undefined)).toBeUndefined();
  });

  it('refuses what the specification calls invalid', () => {
    for (const bad of [
      undefined,
      '',
      `ff-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}`,
      `00-${TRACE.slice(1)}-${SPAN}-01`,
    ]) {
      expect(parseTraceparent(bad, undefined)).toBeUndefined();
    }
  });
});

describe('where traces go', () => {
  it('appends /v1/traces to a base endpoint (flag or OTEL_EXPORTER_OTLP_ENDPOINT), takes the traces endpoint as is, the flag first', () => {
    expect(otlpTracesUrl('http://collector:4318', {})).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('http://collector:4318/', {})).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('http://collector:4318/v1/traces', {})).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318' })).toBe('http://a:4318/v1/traces');
    expect(otlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/custom' })).toBe('http://b/custom');
    expect(otlpTracesUrl('http://flag:1', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/custom' })).toBe('http://flag:1/v1/traces');
    expect(otlpTracesUrl(undefined, {})).toBeUndefined();
    expect(otlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined();
  });
});
