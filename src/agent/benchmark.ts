/**
 * The compute-speed score a node reports when it joins: a short, fixed single-thread workload
 * (dense FP32 matrix products, the core of most inference) timed on this machine. The score is
 * millions of multiply-adds per second, so a node twice as fast scores twice as high; placement
 * compares nodes by it. One thread is measured: cores are reported separately.
 */

/** Side of the square matrices multiplied: 64 × 64 fits in L1/L2 caches, so the score measures the core, not memory. */
const N = 64;

/** One N×N×N product into `out` (i-k-j order, the cache-friendly loop). */
function multiply(a: Float32Array, b: Float32Array, out: Float32Array): void {
  out.fill(0);
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < N; k++) {
      const aik = a[i * N + k] as number;
      for (let j = 0; j < N; j++) out[i * N + j] = (out[i * N + j] as number) + aik * (b[k * N + j] as number);
    }
  }
}

/**
 * Runs matrix products for about `durationMs` after a short warm-up (so the JIT has compiled the
 * loop) and returns millions of multiply-adds per second.
 */
export function measureSpeedScore(durationMs = 300): number {
  const a = Float32Array.from({ length: N * N }, (_, i) => ((i * 7) % 13) / 13);
  const b = Float32Array.from({ length: N * N }, (_, i) => ((i * 5) % 11) / 11);
  const out = new Float32Array(N * N);
  for (let i = 0; i < 20; i++) multiply(a, b, out);
  const start = performance.now();
  let products = 0;
  while (performance.now() - start < durationMs) {
    multiply(a, b, out);
    products += 1;
  }
  const seconds = (performance.now() - start) / 1000;
  return (products * N * N * N) / seconds / 1e6;
}
