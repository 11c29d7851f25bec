import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { linkDeparture, startLink } from './link.js';

describe('link model', () => {
  it('delivers a chunk one delay after it finished transmitting at the capped rate', () => {
    const shape = { oneWayDelayMs: 10, bandwidthBitsPerSecond: 8_000_000 };
    // 10 000 bytes at 1 MB/s take 10 ms to send.
    expect(linkDeparture(shape, 0, 100, 10_000)).toEqual({ deliverAtMs: 120, freeAtMs: 110 });
    // A chunk arriving while the link is busy waits for it.
    expect(linkDeparture(shape, 110, 105, 1000)).toEqual({ deliverAtMs: 121, freeAtMs: 111 });
  });

  it('adds no transmission time without a cap', () => {
    expect(linkDeparture({ oneWayDelayMs: 4.25, bandwidthBitsPerSecond: Infinity }, 0, 50, 1e9)).toEqual({ deliverAtMs: 54.25, freeAtMs: 50 });
  });
});

describe('link relay', () => {
  it('carries bytes both ways with a round trip of at least twice the one-way delay', async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const link = await startLink({ listenHost: '127.0.0.1', listenPort: 0, targetHost: '127.0.0.1', targetPort: (echo.address() as AddressInfo).port, oneWayDelayMs: 40, bandwidthBitsPerSecond: Infinity });
    const socket = connect(link.port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const started = performance.now();
    socket.write('ping');
    const answer = await new Promise<string>((r) => socket.once('data', (d: Buffer) => r(d.toString())));
    const rttMs = performance.now() - started;
    expect(answer).toBe('ping');
    expect(rttMs).toBeGreaterThanOrEqual(79);
    socket.destroy();
    await link.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });
});
