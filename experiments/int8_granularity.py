"""Size/accuracy frontier of per-channel vs per-tensor int8 weights in a TFLite int8 file.

TFLite stores a float32 scale and an int64 zero point for every output channel of every
per-channel weight and bias tensor. This probe rewrites chosen convolution/dense ops of an
exported int8 file to per-tensor weights (requantized from the float32 export's weights, so no
double rounding; bias rescaled to input_scale * weight_scale) and measures size and top-1
agreement with the float32 file on a labelled folder, through LiteRT. It also reports how far the
int8 weights sit from the float weights, in quantization steps.

    .venv/bin/python experiments/int8_granularity.py FP32.tflite INT8.tflite VALID_DIR [--threads 2]

Needs the `train` extra (TensorFlow's flatbuffer tools). Files written by it are probes, not
artifacts: they carry no metadata.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def weighted_ops(model):
    from sportsedge.export.tf_private import schema as tflite_schema

    schema = tflite_schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    kinds = [(op, names[model.operatorCodes[op.opcodeIndex].builtinCode]) for op in model.subgraphs[0].operators]
    return [(op, kind) for op, kind in kinds if kind in WEIGHTED_OPS]


def tensor_array(model, tensor, dtype):
    return np.frombuffer(bytes(model.buffers[tensor.buffer].data), dtype).reshape(tensor.shape)


def per_tensor(int8_model, float_model, chosen: set[int]) -> bytes:
    """The int8 model with the chosen weighted ops (by position) rewritten to per-tensor weights."""
    from sportsedge.export.tf_private import write_model

    m = copy.deepcopy(int8_model)
    sg, fsg = m.subgraphs[0], float_model.subgraphs[0]
    for i, ((op, _), (fop, _)) in enumerate(zip(weighted_ops(m), weighted_ops(float_model))):
        if i not in chosen:
            continue
        x, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
        fw = tensor_array(float_model, fsg.tensors[fop.inputs[1]], np.float32).astype(np.float64)
        scale = np.float32(np.abs(fw).max() / 127)
        m.buffers[w.buffer].data = np.frombuffer(
            np.clip(np.round(fw / scale), -127, 127).astype(np.int8).tobytes(), np.uint8
        )
        rescaled = [(w, scale)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:  # int32 bias, in units of input_scale * weight_scale
            b = sg.tensors[op.inputs[2]]
            fb = tensor_array(float_model, fsg.tensors[fop.inputs[2]], np.float32).astype(np.float64)
            bias_scale = np.float32(np.float32(x.quantization.scale[0]) * scale)
            m.buffers[b.buffer].data = np.frombuffer(np.round(fb / bias_scale).astype(np.int32).tobytes(), np.uint8)
            rescaled.append((b, bias_scale))
        for t, s in rescaled:
            t.quantization.scale, t.quantization.zeroPoint, t.quantization.quantizedDimension = [float(s)], [0], 0
    return write_model(m)


def grid_error(int8_model, float_model) -> list[float]:
    """Per weighted op: largest |dequantized int8 - float| weight difference, in quantization steps."""
    out = []
    for (op, _), (fop, _) in zip(weighted_ops(int8_model), weighted_ops(float_model)):
        w = int8_model.subgraphs[0].tensors[op.inputs[1]]
        fw = tensor_array(float_model, float_model.subgraphs[0].tensors[fop.inputs[1]], np.float32)
        shape = [1] * len(w.shape)
        shape[w.quantization.quantizedDimension] = -1
        steps = np.array(w.quantization.scale, np.float64).reshape(shape)
        out.append(float((np.abs(tensor_array(int8_model, w, np.int8) * steps - fw) / steps).max()))
    return out


def top1(model_bytes: bytes, pixels: np.ndarray, threads: int) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes, num_threads=threads)
    it.allocate_tensors()
    inp, outp = it.get_input_details()[0], it.get_output_details()[0]
    preds = []
    for p in pixels:
        it.set_tensor(inp["index"], p[None].astype(inp["dtype"]))
        it.invoke()
        preds.append(int(np.argmax(it.get_tensor(outp["index"])[0].astype(np.float32))))
    return np.array(preds)


def main() -> None:
    from sportsedge.export.tf_private import read_model
    from sportsedge.runtime.imagesets import class_dirs, load_images
    from sportsedge.runtime.preprocess import is_image_file

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("fp32", type=Path)
    ap.add_argument("int8", type=Path)
    ap.add_argument("data", type=Path, help="labelled folder (one subfolder per class)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    fp32_bytes, int8_bytes = args.fp32.read_bytes(), args.int8.read_bytes()
    fm, qm = read_model(fp32_bytes), read_model(int8_bytes)
    size = tuple(int(d) for d in fm.subgraphs[0].tensors[fm.subgraphs[0].inputs[0]].shape[1:3])
    classes = class_dirs(args.data)
    paths = sorted(p for c in classes for p in (args.data / c).iterdir() if is_image_file(p))
    pixels, kept = load_images(paths, size, "evaluation")
    labels = np.array([classes.index(p.parent.name) for p in kept])
    reference = top1(fp32_bytes, pixels, args.threads)

    ops = weighted_ops(qm)
    errors = grid_error(qm, fm)
    on_grid = sum(e < 1e-3 for e in errors)
    print(
        f"{len(ops)} weighted ops; {on_grid} have float weights exactly on their int8 grid "
        f"(max error < 0.001 steps); the rest up to {max(errors):.2f} steps"
    )
    depthwise = {i for i, (_, kind) in enumerate(ops) if kind == "DEPTHWISE_CONV_2D"}
    dense = {i for i, (_, kind) in enumerate(ops) if kind == "FULLY_CONNECTED"}
    others = set(range(len(ops))) - depthwise

    def spread(i):  # largest / smallest per-channel scale: how much per-tensor costs the op
        s = np.array(qm.subgraphs[0].tensors[ops[i][0].inputs[1]].quantization.scale)
        return float(s.max() / s.min())

    gentlest = set(sorted(others, key=spread)[:5])
    variants = {
        "per-channel everywhere (as exported)": set(),
        "dense layers per-tensor": dense,
        "5 ops with the narrowest scale spread per-tensor": gentlest,
        "all but depthwise per-tensor": others,
        "depthwise only per-tensor": depthwise,
        "everything per-tensor": set(range(len(ops))),
    }
    print(f"float32: {len(fp32_bytes)} bytes, top-1 {np.mean(reference == labels):.1%} on {len(labels)} images")
    print("| weights | ops per-tensor | bytes | % of fp32 | agreement with fp32 | top-1 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, chosen in variants.items():
        body = per_tensor(qm, fm, chosen)
        pred = top1(body, pixels, args.threads)
        print(
            f"| {name} | {len(chosen)} | {len(body)} | {100 * len(body) / len(fp32_bytes):.2f} | "
            f"{np.mean(pred == reference):.1%} | {np.mean(pred == labels):.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
