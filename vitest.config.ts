import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Real ONNX Runtime sessions, real servers and real child processes: give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: suites that start servers and ONNX Runtime threads run two at a time.
    maxWorkers: 2,
  },
});
