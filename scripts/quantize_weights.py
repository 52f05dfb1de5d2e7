#!/usr/bin/env python3
"""Weight-only int8 quantisation of an ONNX model ("int8w").

Every Conv weight initializer, and the weight (B) initializer of every MatMul and Gemm, is replaced by

    <name>_int8 (int8) --+
    <name>_scale (f32)  -+--> DequantizeLinear(axis = output-channel axis) --> <name>
    <name>_zero_point (int8, all 0) --+

so the consumers (including any op that is not quantised but shares the tensor) keep reading a f32 tensor called
<name>; only the stored bytes change. Quantisation is symmetric and per output channel: scale[c] = max|w[c]| / 127
(stored f32), q = round-half-even(w / scale) clipped to [-127, 127]; a channel of zeros gets scale 1. The output-channel
axis is 0 for Conv ([Cout, Cin/group, kh, kw]), 1 for MatMul B ([K, N]) and for Gemm B without transB, 0 for Gemm B
with transB = 1. Biases, BatchNorm parameters, PRelu slopes, Softmax and every activation stay f32: there is no
QuantizeLinear anywhere, so a runtime dequantises the weights once (constant folding) and then computes in f32.

Needs opset >= 13 (per-channel DequantizeLinear). The result is checked with onnx.checker; the caller is expected to
compare outputs with the original (see scripts/quant_check.py).

Usage: python3 scripts/quantize_weights.py IN.onnx OUT.onnx
"""

import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QMAX = 127


def weight_axis(node):
    """(input index, output-channel axis) of the weight `node` consumes, or None if the op is not quantised."""
    if node.op_type == "Conv":
        return 1, 0
    if node.op_type == "MatMul":
        return 1, 1
    if node.op_type == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        return 1, 0 if trans_b else 1
    return None


def quantize_per_channel(w, axis):
    """Symmetric per-channel int8 quantisation of `w` along `axis`: returns (q int8, scale f32[C])."""
    reduce_axes = tuple(i for i in range(w.ndim) if i != axis)
    amax = np.abs(w).max(axis=reduce_axes)
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)  # the stored scale is the one we divide by
    q = np.clip(np.rint(w / channel_view(scale, w.ndim, axis)), -QMAX, QMAX).astype(np.int8)
    return q, scale


def channel_view(values, ndim, axis):
    """Reshape a per-channel vector so that it broadcasts along `axis` of an `ndim`-dimensional tensor."""
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


def opset_version(model):
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def quantize_model(model):
    """Return (new model, list of (name, shape, axis, max abs error)) with all eligible weights quantised."""
    if opset_version(model) < 13:
        raise ValueError("model opset < 13: per-channel DequantizeLinear needs 13 (upgrade with onnx.version_converter)")
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    targets = {}
    for node in graph.node:
        spec = weight_axis(node)
        if spec is None or len(node.input) <= spec[0]:
            continue
        name = node.input[spec[0]]
        if name not in inits or inits[name].data_type != TensorProto.FLOAT or len(inits[name].dims) < 2:
            continue
        axis = spec[1]
        if name in targets and targets[name] != axis:
            raise ValueError(f"initializer {name} is used with two different output-channel axes")
        targets[name] = axis

    taken = set(inits) | {o for n in graph.node for o in n.output} | {i.name for i in graph.input}
    report = []
    dq_nodes = []
    for name, axis in targets.items():
        w = numpy_helper.to_array(inits[name])
        q, scale = quantize_per_channel(w, axis)
        q_name, s_name, z_name = (f"{name}_int8", f"{name}_scale", f"{name}_zero_point")
        for n in (q_name, s_name, z_name):
            if n in taken:
                raise ValueError(f"name clash: {n}")
        taken |= {q_name, s_name, z_name}
        graph.initializer.remove(inits[name])
        graph.initializer.extend([
            numpy_helper.from_array(q, q_name),
            numpy_helper.from_array(scale, s_name),
            numpy_helper.from_array(np.zeros(scale.shape, np.int8), z_name),
        ])
        dq_nodes.append(helper.make_node("DequantizeLinear", [q_name, s_name, z_name], [name],
                                         name=f"{name}_dequantize", axis=axis))
        err = float(np.abs(q.astype(np.float32) * channel_view(scale, w.ndim, axis) - w).max())
        report.append((name, list(w.shape), axis, err))

    # Initializers are available from the start, so the DequantizeLinear nodes go first: topological order holds.
    nodes = dq_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    for vi in list(graph.input):
        if vi.name in targets:  # old IR versions list initializers as graph inputs
            graph.input.remove(vi)
    return model, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="f32 ONNX model")
    parser.add_argument("output", help="where to write the int8-weight model")
    args = parser.parse_args(argv)

    model, report = quantize_model(onnx.load(args.input))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, args.output)
    for name, shape, axis, err in report:
        print(f"  {name:40s} {str(shape):22s} axis {axis}  max|w - dq(q(w))| {err:.3g}")
    print(f"{args.input}: {len(report)} weight tensors quantised -> {args.output}")


if __name__ == "__main__":
    main()
