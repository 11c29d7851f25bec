/** TCP settings of the MQTT clients Continuum runs (the ingest service, virtual assets, benches). */
import { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';

/**
 * Turns Nagle's algorithm off on a client's TCP socket: with it on, a small MQTT packet that
 * follows one not yet acknowledged waits for the peer's delayed ACK (about 40 ms on Linux), which
 * would add that much to every message of a steady stream. mqtt.js opens a new socket on each
 * reconnect, so call it on every `connect`.
 */
export function noDelay(client: MqttClient): void {
  const stream: unknown = client.stream;
  if (stream instanceof Socket) stream.setNoDelay(true);
}
