#!/usr/bin/env python3
"""Independent float64 numpy reference for GPT-2 inference on llm.c checkpoints.

Checkpoint format (llm.c GPT-2 float32, version 3, little-endian):
  header: 256 int32 = [magic 20240326, version 3, maxT, V, L, NH, C, Vp, 0, ...]
  then float32 parameters, row-major, Linear weights stored [out, in], in the
  order of PARAM_SHAPES below. Rows V..Vp-1 of wte are zero.

Dimension letters: T sequence length, C channels, V vocab, Vp padded vocab,
L layers, NH heads, hs = C / NH head size, maxT context length.

Usage:
  python3 scripts/reference_gpt.py CKPT --tokens 1,2,3
  python3 scripts/reference_gpt.py CKPT --tokens 1,2,3 --greedy 20 --max-seq-len 8
"""
import argparse
import math
import os
import sys

import numpy as np

MAGIC = 20240326
VERSION = 3
HEADER_INTS = 256
HEADER_BYTES = HEADER_INTS * 4
LN_EPS = 1e-5


def padded_vocab(V):
    return (V + 127) // 128 * 128


def param_shapes(config):
    """Parameter names and shapes, in file order."""
    maxT, Vp, L, C = config["maxT"], config["Vp"], config["L"], config["C"]
    return [
        ("wte", (Vp, C)),
        ("wpe", (maxT, C)),
        ("ln1w", (L, C)),
        ("ln1b", (L, C)),
        ("qkvw", (L, 3 * C, C)),
        ("qkvb", (L, 3 * C)),
        ("attprojw", (L, C, C)),
        ("attprojb", (L, C)),
        ("ln2w", (L, C)),
        ("ln2b", (L, C)),
        ("fcw", (L, 4 * C, C)),
        ("fcb", (L, 4 * C)),
        ("fcprojw", (L, C, 4 * C)),
        ("fcprojb", (L, C)),
        ("lnfw", (C,)),
        ("lnfb", (C,)),
    ]


def validate_config(config):
    for key in ("maxT", "V", "L", "NH", "C", "Vp"):
        value = config.get(key)
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"config {key} must be a positive int, got {value!r}")
    if config["C"] % config["NH"] != 0:
        raise ValueError(f"C={config['C']} not divisible by NH={config['NH']}")
    if config["Vp"] != padded_vocab(config["V"]):
        raise ValueError(f"Vp={config['Vp']} is not V={config['V']} rounded up to 128")


def num_parameters(config):
    return sum(int(np.prod(shape)) for _, shape in param_shapes(config))


def load_checkpoint(path):
    """Read and strictly validate a checkpoint. Returns (config, params);
    params are float32 arrays exactly as stored."""
    data = open(path, "rb").read()
    if len(data) < HEADER_BYTES:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than the 1024-byte header")
    header = np.frombuffer(data, dtype="<i4", count=HEADER_INTS)
    if header[0] != MAGIC:
        raise ValueError(f"{path}: bad magic {header[0]}, expected {MAGIC}")
    if header[1] != VERSION:
        raise ValueError(f"{path}: unsupported version {header[1]}, expected {VERSION}")
    if np.any(header[8:] != 0):
        raise ValueError(f"{path}: header ints 8..255 must be zero")
    config = dict(maxT=int(header[2]), V=int(header[3]), L=int(header[4]),
                  NH=int(header[5]), C=int(header[6]), Vp=int(header[7]))
    validate_config(config)
    expected = HEADER_BYTES + 4 * num_parameters(config)
    if len(data) != expected:
        raise ValueError(f"{path}: size {len(data)} bytes, expected {expected}")
    flat = np.frombuffer(data, dtype="<f4", offset=HEADER_BYTES)
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"{path}: non-finite parameter values")
    params, offset = {}, 0
    for name, shape in param_shapes(config):
        size = int(np.prod(shape))
        params[name] = flat[offset:offset + size].reshape(shape).astype(np.float32)
        offset += size
    if np.any(params["wte"][config["V"]:] != 0):
        raise ValueError(f"{path}: padding rows V..Vp-1 of wte must be zero")
    return config, params


def write_checkpoint(path, config, params):
    """Write config + params (cast to float32) in the llm.c version-3 format."""
    validate_config(config)
    if np.any(np.asarray(params["wte"])[config["V"]:] != 0):
        raise ValueError("padding rows V..Vp-1 of wte must be zero")
    header = np.zeros(HEADER_INTS, dtype="<i4")
    header[:8] = [MAGIC, VERSION, config["maxT"], config["V"], config["L"],
                  config["NH"], config["C"], config["Vp"]]
    chunks = []
    for name, shape in param_shapes(config):
        array = np.asarray(params[name])
        if array.shape != shape:
            raise ValueError(f"param {name} has shape {array.shape}, expected {shape}")
        chunks.append(np.ascontiguousarray(array, dtype="<f4").tobytes())
    with open(path, "wb") as f:
        f.write(header.tobytes())
        for chunk in chunks:
            f.write(chunk)


# ---- layers (float64); x is (T, C) --------------------------------------

def layernorm(x, w, b):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased variance
    return (x - mean) / np.sqrt(var + LN_EPS) * w + b


def linear(x, w, b):
    """w is stored [out, in]."""
    return x @ w.T + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def attention(qkv, NH):
    """qkv (T, 3C) -> (T, C); causal multi-head self-attention."""
    T, C3 = qkv.shape
    C = C3 // 3
    hs = C // NH
    q, k, v = qkv[:, :C], qkv[:, C:2 * C], qkv[:, 2 * C:]
    q = q.reshape(T, NH, hs).transpose(1, 0, 2)  # (NH, T, hs)
    k = k.reshape(T, NH, hs).transpose(1, 0, 2)
    v = v.reshape(T, NH, hs).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(hs)  # (NH, T, T)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(future, -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs = probs / probs.sum(axis=-1, keepdims=True)
    out = probs @ v  # (NH, T, hs)
    return out.transpose(1, 0, 2).reshape(T, C)


def block(x, p, l, NH):
    h = layernorm(x, p["ln1w"][l], p["ln1b"][l])
    h = attention(linear(h, p["qkvw"][l], p["qkvb"][l]), NH)
    x = x + linear(h, p["attprojw"][l], p["attprojb"][l])
    h = layernorm(x, p["ln2w"][l], p["ln2b"][l])
    h = gelu(linear(h, p["fcw"][l], p["fcb"][l]))
    x = x + linear(h, p["fcprojw"][l], p["fcprojb"][l])
    return x


def forward(params, config, tokens):
    """tokens at positions 0..T-1 -> logits (T, V), float64. The logits come
    from params["output"] (V, C) when present (an untied output matrix, as
    GGUF output.weight or Hugging Face lm_head.weight), else from wte (tied)."""
    V, L, NH, maxT = config["V"], config["L"], config["NH"], config["maxT"]
    tokens = np.asarray(tokens, dtype=np.int64)
    T = len(tokens)
    if not 1 <= T <= maxT:
        raise ValueError(f"sequence length {T} not in 1..{maxT}")
    if np.any(tokens < 0) or np.any(tokens >= V):
        raise ValueError(f"token ids must be in 0..{V - 1}")
    p = {name: np.asarray(a, dtype=np.float64) for name, a in params.items()}
    x = p["wte"][tokens] + p["wpe"][:T]
    for l in range(L):
        x = block(x, p, l, NH)
    x = layernorm(x, p["lnfw"], p["lnfb"])
    return x @ p.get("output", p["wte"])[:V].T


def generate_greedy(params, config, prompt, num_tokens, max_seq_len):
    """Greedy decoding without a cache: every step runs forward on the most
    recent min(len, max_seq_len) tokens at positions 0..n-1 and takes the
    argmax (lowest index on ties) of the last position. Returns only the
    num_tokens generated ids."""
    if not 1 <= max_seq_len <= config["maxT"]:
        raise ValueError(f"max_seq_len {max_seq_len} not in 1..{config['maxT']}")
    if len(prompt) == 0:
        raise ValueError("prompt must not be empty")
    seq = [int(t) for t in prompt]
    generated = []
    for _ in range(num_tokens):
        logits = forward(params, config, seq[-max_seq_len:])[-1]
        next_id = int(np.argmax(logits))  # np.argmax returns the first maximum
        seq.append(next_id)
        generated.append(next_id)
    return generated


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--tokens", required=True, help="comma-separated token ids")
    parser.add_argument("--greedy", type=int, metavar="N", help="generate N tokens greedily")
    parser.add_argument("--max-seq-len", type=int, metavar="W",
                        help="sliding window for --greedy (default maxT)")
    args = parser.parse_args(argv)
    config, params = load_checkpoint(args.checkpoint)
    tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    print("config:", " ".join(f"{k}={v}" for k, v in config.items()))
    if args.greedy is not None:
        W = args.max_seq_len or config["maxT"]
        ids = generate_greedy(params, config, tokens, args.greedy, W)
        print("generated:", ",".join(map(str, ids)))
    else:
        last = forward(params, config, tokens)[-1]
        np.set_printoptions(precision=6, suppress=True, linewidth=100, threshold=sys.maxsize)
        print(f"logits of last position (V={config['V']}):")
        print(last)
        order = np.argsort(-last, kind="stable")[:5]
        print("top-5:", ", ".join(f"{i}:{last[i]:.6f}" for i in order))


if __name__ == "__main__":
    main()
