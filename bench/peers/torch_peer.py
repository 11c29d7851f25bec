"""The Python peer: FastAPI + uvicorn (one worker) + torch, serving the benchmark MLP with the same
weights as the ONNX model (exported by bench/serving.ts), OIP-shaped JSON in and out.

    /usr/bin/python3 bench/peers/torch_peer.py --weights mlp.json --name mlp --port 8091

Written the way the FastAPI tutorial reads: pydantic models for the body, a plain `def` handler
(run in FastAPI's thread pool), torch in inference mode. Debian's python3-fastapi, python3-uvicorn
and python3-torch.
"""
import argparse
import json

import torch
import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

parser = argparse.ArgumentParser()
parser.add_argument("--weights", required=True, help="JSON: {layers: [{in, out, w (row-major [in, out]), b}], softmax, output}")
parser.add_argument("--name", required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()

with open(args.weights) as f:
    spec = json.load(f)

layers = []
for i, layer in enumerate(spec["layers"]):
    linear = torch.nn.Linear(layer["in"], layer["out"])
    with torch.no_grad():
        # ONNX Gemm holds W as [in, out]; torch.nn.Linear holds its transpose, [out, in].
        linear.weight.copy_(torch.tensor(layer["w"], dtype=torch.float32).reshape(layer["in"], layer["out"]).t())
        linear.bias.copy_(torch.tensor(layer["b"], dtype=torch.float32))
    layers.append(linear)
    if i + 1 < len(spec["layers"]):
        layers.append(torch.nn.ReLU())
if spec["softmax"]:
    layers.append(torch.nn.Softmax(dim=1))
model = torch.nn.Sequential(*layers).eval()


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]


class InferenceRequest(BaseModel):
    inputs: list[RequestInput]


app = FastAPI()


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


@app.post("/v2/models/{model_name}/infer")
def infer(model_name: str, request: InferenceRequest):
    if model_name != args.name:
        raise HTTPException(status_code=404, detail=f"unknown model {model_name}")
    first = request.inputs[0]
    x = torch.tensor(first.data, dtype=torch.float32).reshape(first.shape)
    with torch.inference_mode():
        y = model(x)
    return {
        "model_name": args.name,
        "outputs": [{"name": spec["output"], "datatype": "FP32", "shape": list(y.shape), "data": y.flatten().tolist()}],
    }


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=args.port, workers=1, log_level="warning", access_log=False)
