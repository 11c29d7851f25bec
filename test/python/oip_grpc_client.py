#!/usr/bin/python3
"""An independent OIP v2 gRPC client: Python grpcio + protobuf, without Continuum's .proto file.

The message types are declared here, in Python, as a FileDescriptorProto written from the KServe
"Open Inference Protocol (V2)" gRPC spec (package `inference`, service `GRPCInferenceService`, the
spec's field numbers), so a round trip checks that Continuum's server is wire-compatible with the
published protocol rather than with itself.

Usage: oip_grpc_client.py HOST:PORT
Prints one JSON object with what the server answered; the Node test checks it.
"""
import array
import json
import struct
import sys

import grpc
from google.protobuf import descriptor_pb2, message_factory

F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def message(name, fields):
    """A DescriptorProto; fields are (name, number, type, label[, type_name])."""
    m = descriptor_pb2.DescriptorProto(name=name)
    for spec in fields:
        f = m.field.add(name=spec[0], number=spec[1], type=spec[2], label=spec[3])
        if len(spec) > 4:
            f.type_name = spec[4]
    return m


def protocol():
    """The subset of the OIP v2 gRPC protocol this client speaks, as message classes by name."""
    fdp = descriptor_pb2.FileDescriptorProto(name="oip_v2_client.proto", package="inference", syntax="proto3")
    S, B, BOOL, I64, MSG = F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_BOOL, F.TYPE_INT64, F.TYPE_MESSAGE
    fdp.message_type.extend([
        message("ServerLiveRequest", []),
        message("ServerLiveResponse", [("live", 1, BOOL, OPTIONAL)]),
        message("ServerReadyRequest", []),
        message("ServerReadyResponse", [("ready", 1, BOOL, OPTIONAL)]),
        message("ModelReadyRequest", [("name", 1, S, OPTIONAL), ("version", 2, S, OPTIONAL)]),
        message("ModelReadyResponse", [("ready", 1, BOOL, OPTIONAL)]),
        message("ServerMetadataRequest", []),
        message("ServerMetadataResponse", [("name", 1, S, OPTIONAL), ("version", 2, S, OPTIONAL), ("extensions", 3, S, REPEATED)]),
        message("ModelMetadataRequest", [("name", 1, S, OPTIONAL), ("version", 2, S, OPTIONAL)]),
        message("TensorMetadata", [("name", 1, S, OPTIONAL), ("datatype", 2, S, OPTIONAL), ("shape", 3, I64, REPEATED)]),
        message("ModelMetadataResponse", [
            ("name", 1, S, OPTIONAL), ("versions", 2, S, REPEATED), ("platform", 3, S, OPTIONAL),
            ("inputs", 4, MSG, REPEATED, ".inference.TensorMetadata"), ("outputs", 5, MSG, REPEATED, ".inference.TensorMetadata"),
        ]),
        message("InferTensorContents", [
            ("bool_contents", 1, BOOL, REPEATED), ("int_contents", 2, F.TYPE_INT32, REPEATED),
            ("int64_contents", 3, I64, REPEATED), ("uint_contents", 4, F.TYPE_UINT32, REPEATED),
            ("uint64_contents", 5, F.TYPE_UINT64, REPEATED), ("fp32_contents", 6, F.TYPE_FLOAT, REPEATED),
            ("fp64_contents", 7, F.TYPE_DOUBLE, REPEATED), ("bytes_contents", 8, B, REPEATED),
        ]),
        message("InferInputTensor", [
            ("name", 1, S, OPTIONAL), ("datatype", 2, S, OPTIONAL), ("shape", 3, I64, REPEATED),
            ("contents", 5, MSG, OPTIONAL, ".inference.InferTensorContents"),
        ]),
        message("InferRequestedOutputTensor", [("name", 1, S, OPTIONAL)]),
        message("ModelInferRequest", [
            ("model_name", 1, S, OPTIONAL), ("model_version", 2, S, OPTIONAL), ("id", 3, S, OPTIONAL),
            ("inputs", 5, MSG, REPEATED, ".inference.InferInputTensor"),
            ("outputs", 6, MSG, REPEATED, ".inference.InferRequestedOutputTensor"),
            ("raw_input_contents", 7, B, REPEATED),
        ]),
        message("InferOutputTensor", [
            ("name", 1, S, OPTIONAL), ("datatype", 2, S, OPTIONAL), ("shape", 3, I64, REPEATED),
            ("contents", 5, MSG, OPTIONAL, ".inference.InferTensorContents"),
        ]),
        message("ModelInferResponse", [
            ("model_name", 1, S, OPTIONAL), ("model_version", 2, S, OPTIONAL), ("id", 3, S, OPTIONAL),
            ("outputs", 5, MSG, REPEATED, ".inference.InferOutputTensor"), ("raw_output_contents", 6, B, REPEATED),
        ]),
    ])
    classes = message_factory.GetMessages([fdp])
    return {name.split(".", 1)[1]: cls for name, cls in classes.items()}


P = protocol()


def rpc(channel, method, request_type, response_type):
    return channel.unary_unary(
        "/inference.GRPCInferenceService/" + method,
        request_serializer=P[request_type].SerializeToString,
        response_deserializer=P[response_type].FromString,
    )


def decode_raw(datatype, raw):
    """Raw little-endian output bytes to a list (OIP raw_output_contents)."""
    if datatype == "BYTES":
        out, offset = [], 0
        while offset < len(raw):
            (length,) = struct.unpack_from("<I", raw, offset)
            out.append(raw[offset + 4:offset + 4 + length].decode("utf-8"))
            offset += 4 + length
        return out
    code = {"FP32": "<f", "FP64": "<d", "INT64": "<q", "UINT64": "<Q", "INT32": "<i"}[datatype]
    size = struct.calcsize(code)
    return [struct.unpack_from(code, raw, i)[0] for i in range(0, len(raw), size)]


def outputs_of(response):
    return {
        o.name: {"datatype": o.datatype, "shape": list(o.shape), "data": decode_raw(o.datatype, response.raw_output_contents[i])}
        for i, o in enumerate(response.outputs)
    }


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    result = {}
    result["live"] = rpc(channel, "ServerLive", "ServerLiveRequest", "ServerLiveResponse")(P["ServerLiveRequest"](), timeout=10).live
    result["ready"] = rpc(channel, "ServerReady", "ServerReadyRequest", "ServerReadyResponse")(P["ServerReadyRequest"](), timeout=10).ready
    meta = rpc(channel, "ServerMetadata", "ServerMetadataRequest", "ServerMetadataResponse")(P["ServerMetadataRequest"](), timeout=10)
    result["server"] = {"name": meta.name, "extensions": list(meta.extensions)}
    model = rpc(channel, "ModelMetadata", "ModelMetadataRequest", "ModelMetadataResponse")(P["ModelMetadataRequest"](name="mlp"), timeout=10)
    result["model"] = {
        "name": model.name, "versions": list(model.versions), "platform": model.platform,
        "inputs": [{"name": t.name, "datatype": t.datatype, "shape": list(t.shape)} for t in model.inputs],
    }
    result["model_ready"] = rpc(channel, "ModelReady", "ModelReadyRequest", "ModelReadyResponse")(P["ModelReadyRequest"](name="mlp"), timeout=10).ready

    infer = rpc(channel, "ModelInfer", "ModelInferRequest", "ModelInferResponse")
    x = [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]

    # Typed contents in, raw contents out.
    request = P["ModelInferRequest"](model_name="mlp", id="py-typed")
    tensor = request.inputs.add(name="input", datatype="FP32", shape=[2, 4])
    tensor.contents.fp32_contents.extend(x)
    response = infer(request, timeout=10)
    result["typed"] = {"id": response.id, "model_name": response.model_name, "model_version": response.model_version, "outputs": outputs_of(response)}

    # Raw contents in, one requested output.
    request = P["ModelInferRequest"](model_name="mlp", model_version="1", id="py-raw")
    request.inputs.add(name="input", datatype="FP32", shape=[2, 4])
    request.outputs.add(name="label")
    request.raw_input_contents.append(array.array("f", x).tobytes())
    response = infer(request, timeout=10)
    result["raw"] = {"id": response.id, "outputs": outputs_of(response)}

    # BYTES and INT64 extremes through typed contents.
    request = P["ModelInferRequest"](model_name="id-bytes")
    tensor = request.inputs.add(name="in_0", datatype="BYTES", shape=[1, 3])
    tensor.contents.bytes_contents.extend(["grpc".encode(), "".encode(), "ünïcödé".encode()])
    result["bytes"] = outputs_of(infer(request, timeout=10))["out_0"]["data"]
    request = P["ModelInferRequest"](model_name="id-int64")
    tensor = request.inputs.add(name="in_0", datatype="INT64", shape=[1, 3])
    tensor.contents.int64_contents.extend([-(2 ** 63), 2 ** 63 - 1, 42])
    result["int64"] = [str(v) for v in outputs_of(infer(request, timeout=10))["out_0"]["data"]]

    # Errors carry the OIP status codes.
    errors = {}
    for label, req in [
        ("unknown_model", P["ModelInferRequest"](model_name="nope", inputs=[
            P["InferInputTensor"](name="input", datatype="FP32", shape=[1, 1], contents=P["InferTensorContents"](fp32_contents=[1.0])),
        ])),
        ("bad_datatype", P["ModelInferRequest"](model_name="mlp", inputs=[P["InferInputTensor"](name="input", datatype="FP99", shape=[1, 4])])),
    ]:
        try:
            infer(req, timeout=10)
            errors[label] = "OK"
        except grpc.RpcError as err:
            errors[label] = err.code().name
    result["errors"] = errors
    print(json.dumps(result))


if __name__ == "__main__":
    main()
