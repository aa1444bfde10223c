#!/usr/bin/env python3
"""Float64 numpy references for log-probabilities, for the Swift tests.

Reads the model fixtures (Tests/GPTTests/Fixtures/model/<name>.bin, made by
make_model_fixtures.py) and writes Tests/GPTTests/Fixtures/model/scores.json:

  scores:     a random text longer than the context, scored with a sliding
              window (window W, stride S) as the README documents: each pass
              feeds at most W tokens starting S after the previous pass (the last
              one moved back to end with the text) and scores the tokens no
              earlier pass scored. Per token: its log-probability and the top 3.
  generation: greedy runs with a sliding window (from the fixture); per step the
              log-softmax of the last position's logits at the chosen token and the top 3.

Log-softmax in float64: logits - max - log(sum(exp(logits - max))).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gpt import forward, load_checkpoint  # noqa: E402

DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "GPTTests", "Fixtures", "model")
TOP = 3


def log_softmax(logits):
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def describe(logprobs, token):
    order = np.argsort(-logprobs, kind="stable")[:TOP]  # ties: lower id first
    return dict(id=int(token), logprob=float(logprobs[token]),
                top_ids=[int(i) for i in order], top_logprobs=[float(logprobs[i]) for i in order])


def score_sliding(params, config, tokens, W, S):
    """Each token's context, pass by pass; returns one entry per token (None first)."""
    n = len(tokens)
    scored = [None]
    start = 0
    while len(scored) < n:
        end = min(start + W, n - 1)     # this pass feeds tokens[start:end]
        start = max(0, end - W)
        logits = forward(params, config, tokens[start:end])
        for position in range(len(scored) - 1, end):
            scored.append(describe(log_softmax(logits[position - start]), tokens[position + 1]))
        start += S
    return scored


def greedy_logprobs(params, config, prompt, W, num_tokens):
    sequence, steps = list(prompt), []
    for _ in range(num_tokens):
        logprobs = log_softmax(forward(params, config, sequence[-W:])[-1])
        token = int(np.argmax(logprobs))
        steps.append(describe(logprobs, token))
        sequence.append(token)
    return steps


def main():
    rng = np.random.default_rng(20261127)
    out = []
    for name in ("one_head", "odd_channels", "wide"):
        config, params = load_checkpoint(os.path.join(DIR, f"{name}.bin"))
        maxT, V = config["maxT"], config["V"]
        tokens = rng.integers(0, V, 2 * maxT + 5).tolist()
        scores = [dict(window=W, stride=S, expected=score_sliding(params, config, tokens, W, S))
                  for W, S in ((maxT, maxT // 2), (8, 4), (8, 3), (8, 8), (1, 1))]
        with open(os.path.join(DIR, f"{name}.json")) as f:
            greedy = json.load(f)["greedy"]
        generation = [dict(prompt=g["prompt"], max_seq_len=g["max_seq_len"], num_tokens=g["num_tokens"],
                           expected=greedy_logprobs(params, config, g["prompt"], g["max_seq_len"], g["num_tokens"]))
                      for g in greedy[:2]]
        out.append(dict(name=name, tokens=tokens, scores=scores, generation=generation))
        print(f"{name}: {len(tokens)} tokens scored with {len(scores)} windows, {len(generation)} greedy runs")
    with open(os.path.join(DIR, "scores.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
