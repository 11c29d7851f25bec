/**
 * The replica side of the channel: the existing {@link Runtime} over a one-model source (no
 * registry, no SQLite in a replica), fed by frames from the parent. Imported by replica-main.ts
 * after the process has booted, so that importing the runtime and ONNX Runtime is a phase of its
 * own (and done ahead of time by spare processes of the warm pool).
 */
import { ContinuumError, toContinuumError } from '../../errors.js';
import { initializeOnnxRuntime, Runtime } from '../../runtime/index.js';
import type { InferTiming, ModelSource, ResolvedModelVersion } from '../../runtime/index.js';
import type { ReplicaSpec } from '../types.js';
import { FrameKind, jsonHeader } from './frames.js';
import type { Frame, FrameWriter } from './frames.js';
import { decodeInferRequest, encodeFailure, encodeInferResponse, parseParentMessage } from './messages.js';
import type { ReplicaMessage } from './messages.js';

/** Everything a replica can do before it knows its model: ONNX Runtime's process-wide setup. */
export const prepareRuntime = initializeOnnxRuntime;

/** A source that knows exactly the model version the replica runs. */
function singleModelSource(model: ResolvedModelVersion): ModelSource {
  return {
    resolve(name, version) {
      if (name !== model.name) throw new ContinuumError('CONTINUUM_ERR_MODEL_NOT_FOUND', `this replica serves model '${model.name}', not '${name}'`);
      if (version !== undefined && version !== model.version) {
        throw new ContinuumError('CONTINUUM_ERR_VERSION_NOT_FOUND', `this replica serves version ${model.version} of model '${model.name}', not ${version}`);
      }
      return model;
    },
    listDefaults: () => [{ name: model.name, version: model.version }],
  };
}

/**
 * The handler of the frames the parent sends: load the model, run requests, answer pings and
 * statistics, drain and exit. Throws on a frame that is not part of the protocol.
 */
export function createReplicaHandler(writer: FrameWriter): (frame: Frame) => void {
  let runtime: Runtime | undefined;
  let model: ResolvedModelVersion | undefined;
  const control = (id: number, message: ReplicaMessage): void => writer.writeJson(FrameKind.Control, id, message);
  const exit = (code: number): void => {
    writer.end(() => process.exit(code));
    // A parent that stopped reading must not keep this process alive.
    setTimeout(() => process.exit(code), 1000).unref();
  };

  const load = async (spec: ReplicaSpec): Promise<void> => {
    const resolved = spec.model;
    model = resolved;
    // What `ps` shows: which deployment this process serves (Linux truncates to the original argv's length).
    process.title = `continuum-replica ${spec.deployment}@${spec.revision} ${resolved.name}:${resolved.version}`;
    runtime = new Runtime({ source: singleModelSource(resolved) });
    try {
      await runtime.loadModel(resolved.name, resolved.version);
    } catch (err) {
      control(0, { op: 'failed', error: encodeFailure(err) });
      exit(1);
      return;
    }
    const timings = runtime.loadTimings(resolved.name);
    control(0, { op: 'ready', sessionMs: timings?.sessionMs ?? 0, warmupMs: timings?.warmupMs ?? 0 });
  };

  const infer = (frame: Frame): void => {
    if (runtime === undefined || model === undefined) {
      writer.writeJson(FrameKind.Failure, frame.id, encodeFailure(new ContinuumError('CONTINUUM_ERR_MODEL_NOT_READY', 'the replica has no model loaded yet')));
      return;
    }
    let decoded: ReturnType<typeof decodeInferRequest>;
    try {
      decoded = decodeInferRequest(frame.header, frame.payload);
    } catch (err) {
      writer.writeJson(FrameKind.Failure, frame.id, encodeFailure(err));
      return;
    }
    // The request's timing in this replica's batcher travels back in the answer's header.
    let timing: InferTiming | undefined;
    const onTiming = (t: InferTiming): void => {
      timing = t;
    };
    const options = decoded.deadlineMs === undefined ? { onTiming } : { deadlineMs: decoded.deadlineMs, onTiming };
    runtime.infer(model.name, model.version, decoded.request, options).then(
      (response) => {
        const { header, payload } = encodeInferResponse(response, timing);
        writer.write(FrameKind.Result, frame.id, header, payload);
      },
      (err: unknown) => writer.writeJson(FrameKind.Failure, frame.id, encodeFailure(err)),
    );
  };

  const handle = (frame: Frame): void => {
    if (frame.kind === FrameKind.Infer) {
      infer(frame);
      return;
    }
    if (frame.kind !== FrameKind.Control) throw new Error(`unexpected frame kind ${frame.kind} from the parent`);
    const message = parseParentMessage(jsonHeader(frame));
    switch (message.op) {
      case 'load':
        void load(message.spec);
        return;
      case 'ping': {
        const cpu = process.cpuUsage();
        const queued = runtime?.queueDepths().reduce((n, q) => n + q.queued, 0) ?? 0;
        control(frame.id, { op: 'pong', cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rssBytes: process.memoryUsage.rss(), queued });
        return;
      }
      case 'statistics': {
        const stats = model === undefined ? undefined : runtime?.statistics(model.name)[0];
        if (stats === undefined) writer.writeJson(FrameKind.Failure, frame.id, encodeFailure(new ContinuumError('CONTINUUM_ERR_MODEL_NOT_READY', 'the replica has no model loaded yet')));
        else control(frame.id, { op: 'statistics', statistics: stats });
        return;
      }
      case 'drain':
        void (runtime?.close() ?? Promise.resolve()).then(
          () => exit(0),
          (err: unknown) => {
            process.stderr.write(`replica drain failed: ${toContinuumError(err).message}\n`);
            exit(1);
          },
        );
        return;
    }
  };

  return handle;
}
