#!/usr/bin/env python3
"""Generate random GPT-2 checkpoints plus float64 reference outputs for the Swift tests.

Writes Tests/GPTTests/Fixtures/model/<name>.bin and <name>.json (see scripts/README.md).
Deterministic: each shape starts from a fixed seed and takes the first seed whose
greedy runs have a clear top-2 margin at every step (so float32 vs float64 cannot
flip an argmax), are not stuck on one token, and actually depend on the window.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gpt import (forward, generate_greedy, load_checkpoint,  # noqa: E402
                           padded_vocab, param_shapes, write_checkpoint)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "..", "Tests", "GPTTests", "Fixtures", "model")

# name: (maxT, V, L, NH, C, first seed tried); seeds below are the first accepted ones
SHAPES = {
    "one_head": (16, 100, 1, 1, 24, 1080),
    "many_heads": (32, 300, 2, 6, 48, 2078),
    "odd_channels": (24, 257, 3, 5, 35, 3093),
    "wide": (64, 130, 2, 4, 64, 4409),
}
MIN_REL_MARGIN = 5e-3   # required (top1 - top2) / max(1, max|logits|) at every greedy step
MIN_DISTINCT_IDS = 4    # each greedy run must produce at least this many different ids
MAX_SEED_TRIES = 500


def random_params(config, rng):
    V, Vp = config["V"], config["Vp"]
    params = {}
    for name, shape in param_shapes(config):
        if name == "wte":
            a = np.zeros(shape)
            a[:V] = rng.normal(0.0, 0.4, (V, shape[1]))   # padding rows stay exactly 0
        elif name == "wpe":
            a = rng.normal(0.0, 0.8, shape)               # strong positions: windowing matters
        elif name in ("ln1w", "ln2w", "lnfw"):
            a = 1.0 + rng.normal(0.0, 0.1, shape)
        elif name.endswith("b"):                          # every bias, including LN biases
            a = rng.normal(0.0, 0.05, shape)
        else:                                             # Linear weights [out, in]
            a = rng.normal(0.0, 0.3, shape)               # big enough to beat the tied wte[t]
        params[name] = a.astype(np.float32)
    assert np.all(params["wte"][V:Vp] == 0)
    return params


def top2_margin(logits):
    """(absolute, relative) gap between the two largest logits."""
    top = np.sort(logits)[-2:]
    gap = float(top[1] - top[0])
    return gap, gap / max(1.0, float(np.max(np.abs(logits))))


def greedy_with_margins(params, config, prompt, num_tokens, W):
    """Same as generate_greedy, also returning the smallest top-2 margin seen."""
    seq, ids, worst = list(prompt), [], (np.inf, np.inf)
    for _ in range(num_tokens):
        logits = forward(params, config, seq[-W:])[-1]
        worst = min(worst, top2_margin(logits), key=lambda m: m[1])
        ids.append(int(np.argmax(logits)))
        seq.append(ids[-1])
    return ids, worst


def greedy_specs(config, rng):
    """(prompt, max_seq_len, num_tokens) triples."""
    maxT, V = config["maxT"], config["V"]
    W_small = 8
    return [
        (rng.integers(0, V, 3).tolist(), W_small, 40),            # window slides many times
        ([int(rng.integers(0, V))], W_small, 20),                 # single-token prompt
        (rng.integers(0, V, 12).tolist(), W_small, 20),           # prompt longer than window
        (rng.integers(0, V, 5).tolist(), maxT, maxT + 12),        # full context, then slide
    ]


def make_fixture(name, maxT, V, L, NH, C, base_seed):
    config = dict(maxT=maxT, V=V, L=L, NH=NH, C=C, Vp=padded_vocab(V))
    path_bin = os.path.join(OUT_DIR, f"{name}.bin")
    for seed in range(base_seed, base_seed + MAX_SEED_TRIES):
        rng = np.random.default_rng(seed)
        write_checkpoint(path_bin, config, random_params(config, rng))
        loaded_config, params = load_checkpoint(path_bin)   # use exactly what Swift reads
        assert loaded_config == config
        greedy, worst, problem = [], (np.inf, np.inf), None
        for prompt, W, n in greedy_specs(config, rng):
            ids, m = greedy_with_margins(params, config, prompt, n, W)
            greedy.append(dict(prompt=prompt, max_seq_len=W, num_tokens=n, ids=ids))
            worst = min(worst, m, key=lambda x: x[1])
            if m[1] <= MIN_REL_MARGIN:
                problem = f"relative margin {m[1]:.2e}"
            elif len(set(ids)) < MIN_DISTINCT_IDS:
                problem = f"only {len(set(ids))} distinct ids"
            elif W < maxT and ids == generate_greedy(params, config, prompt, n, min(maxT, len(prompt) + n)):
                problem = f"window {W} makes no difference"
            if problem:
                break
        if problem is None:
            assert all(g["ids"] == generate_greedy(params, config, g["prompt"], g["num_tokens"],
                                                   g["max_seq_len"]) for g in greedy)
            break
        print(f"  {name}: seed {seed} rejected ({problem})")
    else:
        raise RuntimeError(f"{name}: no seed with a clear greedy margin")

    # Logit cases: lengths 1, 2, a middle one, maxT; include the extreme ids 0 and V-1.
    cases = []
    for T in (1, 2, maxT // 2 + 1, maxT):
        tokens = rng.integers(0, V, T).tolist()
        if T >= 2:
            tokens[0], tokens[-1] = V - 1, 0
        cases.append(dict(tokens=tokens, logits_last=forward(params, config, tokens)[-1].tolist()))
    all_tokens = rng.integers(0, V, maxT).tolist()
    logits_all = dict(tokens=all_tokens, logits=forward(params, config, all_tokens).tolist())

    fixture = dict(name=name, seed=seed, config=config, cases=cases, logits_all=logits_all,
                   greedy=greedy, min_greedy_margin=dict(absolute=worst[0], relative=worst[1]))
    with open(os.path.join(OUT_DIR, f"{name}.json"), "w") as f:
        json.dump(fixture, f)   # json writes floats with repr (round-trip exact)
        f.write("\n")
    print(f"{name}: seed {seed}, {os.path.getsize(path_bin)} B bin, "
          f"{os.path.getsize(os.path.join(OUT_DIR, name + '.json'))} B json, "
          f"min greedy margin abs {worst[0]:.4f} rel {worst[1]:.4f}")
    return worst


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    worst = min((make_fixture(name, *shape) for name, shape in SHAPES.items()),
                key=lambda m: m[1])
    print(f"overall min greedy margin: abs {worst[0]:.4f} rel {worst[1]:.4f}")


if __name__ == "__main__":
    main()
