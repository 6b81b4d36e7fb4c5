"""Python onnxruntime's side of `npm run bench:embed`: times one pass over the benchmark's token sequences
(batch 1) for a named graph and thread count, each time the benchmark asks, so its passes alternate with
the Node runtimes'.

Protocol: argv[1] is a JSON file {"graphs": {name: path}, "inputs": [[ids]], "threads": n}; the first line
written is onnxruntime's version; then each line on stdin is "<graph> <threads>" (threads: n or 1), and the
answer is one line: the pass's wall-clock and CPU seconds.
"""

import json
import sys
import time

import numpy as np
import onnxruntime as ort


def session(path: str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main() -> None:
    spec = json.load(open(sys.argv[1]))
    sessions = {(name, t): session(path, t) for name, path in spec["graphs"].items() for t in {spec["threads"], 1}}
    feeds = []
    for ids in spec["inputs"]:
        a = np.array([ids], dtype=np.int64)
        feeds.append({"input_ids": a, "attention_mask": np.ones_like(a), "token_type_ids": np.zeros_like(a)})
    print(ort.__version__, flush=True)
    for line in sys.stdin:
        name, threads = line.split()
        run = sessions[(name, int(threads))].run
        wall, cpu = time.perf_counter(), time.process_time()
        for feed in feeds:
            run(["last_hidden_state"], feed)
        print(time.perf_counter() - wall, time.process_time() - cpu, flush=True)


if __name__ == "__main__":
    main()
