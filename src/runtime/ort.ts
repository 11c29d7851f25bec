/**
 * onnxruntime-node, loaded on first use: a server with no model loaded does not map ONNX Runtime's
 * native library (about 15 MB resident). Every session is created after {@link loadOrt}, so code
 * that runs on a loaded model reads it with {@link loadedOrt}.
 */
import type * as Ort from 'onnxruntime-node';

let ort: typeof Ort | undefined;

/** Loads onnxruntime-node (once) and returns it. */
export async function loadOrt(): Promise<typeof Ort> {
  ort ??= await import('onnxruntime-node');
  return ort;
}

/** onnxruntime-node, once {@link loadOrt} has loaded it (always so where a session exists). */
export function loadedOrt(): typeof Ort {
  if (ort === undefined) throw new Error('onnxruntime-node is used before any session was created');
  return ort;
}
