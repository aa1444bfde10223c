#!/usr/bin/env python3
"""Write a random tiny GPT-2 in the formats other tools produce, and what the
float64 reference (scripts/reference_gpt.py) computes from those files.

  make_format_fixtures.py OUTDIR        fixtures + OUTDIR/expected.json for the Swift tests
  make_format_fixtures.py --seeds DIR   small valid files to seed the fuzzers

Files are written by the `safetensors` and `gguf` packages from numpy arrays,
and the reference reads them back with those packages' readers
(safetensors.numpy.load_file, gguf.GGUFReader + gguf.quants.dequantize), so
the expected tokens never come from the code under test.

OUTDIR gets:
  hf_f32/          config.json, model.safetensors (f32, `transformer.` prefix, tied lm_head), tokenizer.json
  hf_f16/          the same in f16, names without the prefix, no lm_head
  hf_sharded/      hf_f32's tensors in 3 shards with model.safetensors.index.json, as save_pretrained writes them
  sharded_*/       sharded folders broken in one way each (index not JSON, no weight_map, a shard missing,
                   a shard path with ".." or absolute, a tensor its shard lacks, in two shards, in another
                   shard than the map's, not in the map,
                   a shard that is not safetensors)
  gguf_TYPE.gguf   TYPE in f32, f16, bf16, q8_0, q4_0 (llama.cpp's gpt2 names and keys, tokenizer in metadata)
  untied_gguf_f32.gguf, untied_gguf_q8_0.gguf, untied_hf_f16/
                   a model with an output matrix of its own (output.weight; lm_head.weight beside `transformer.` names)
  hf_bad_lm_head/  f32, whose lm_head.weight is [V, C/2]
  expected.json    {fixture: {prompt, greedy, logits_last, logits_long (untied ones)}}, and tokenizer cases from the `tokenizers` library
"""
import json
import os
import shutil
import sys

import gguf
import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gpt import forward, generate_greedy  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TOKENIZER = os.path.join(ROOT, "models", "shakespeare", "tokenizer.json")
# V covers the bundled tokenizer's 4096 ids; C is a multiple of 32 for the block types.
SHAPE = dict(maxT=32, V=4096, L=2, NH=4, C=64)
PROMPT = [464, 1169, 318, 257, 1332]
GREEDY_TOKENS = 12
TYPES = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
         "bf16": gguf.GGMLQuantizationType.BF16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
         "q4_0": gguf.GGMLQuantizationType.Q4_0}
TOKENIZER_TEXTS = ["To be, or not to be: that is the question.", "ROMEO:\nWhat light through yonder window breaks?",
                   "  spaces   and\ttabs\n\n<|endoftext|>The end", "déjà vu — naïve café 123456", ""]
PER_LAYER = ["ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb"]
GGUF_NAMES = {"wte": "token_embd.weight", "wpe": "position_embd.weight", "lnfw": "output_norm.weight",
              "lnfb": "output_norm.bias", "ln1w": "attn_norm.weight", "ln1b": "attn_norm.bias",
              "qkvw": "attn_qkv.weight", "qkvb": "attn_qkv.bias", "attprojw": "attn_output.weight",
              "attprojb": "attn_output.bias", "ln2w": "ffn_norm.weight", "ln2b": "ffn_norm.bias",
              "fcw": "ffn_up.weight", "fcb": "ffn_up.bias", "fcprojw": "ffn_down.weight", "fcprojb": "ffn_down.bias"}
HF_NAMES = {"wte": "wte.weight", "wpe": "wpe.weight", "lnfw": "ln_f.weight", "lnfb": "ln_f.bias",
            "ln1w": "ln_1.weight", "ln1b": "ln_1.bias", "qkvw": "attn.c_attn.weight", "qkvb": "attn.c_attn.bias",
            "attprojw": "attn.c_proj.weight", "attprojb": "attn.c_proj.bias", "ln2w": "ln_2.weight", "ln2b": "ln_2.bias",
            "fcw": "mlp.c_fc.weight", "fcb": "mlp.c_fc.bias", "fcprojw": "mlp.c_proj.weight", "fcprojb": "mlp.c_proj.bias"}
CONV1D = {"qkvw", "attprojw", "fcw", "fcprojw"}


def random_params(shape, seed, untied=False):
    """llm.c layout (Linear weights [out, in]). The blocks outweigh the tied
    embedding, or greedy decoding would only repeat the last token. `untied`
    adds an output matrix of its own (drawn last: the others stay the same)."""
    rng = np.random.default_rng(seed)
    maxT, V, L, C = shape["maxT"], shape["V"], shape["L"], shape["C"]
    def normal(std, *dims):
        return rng.normal(0.0, std, dims).astype(np.float32)
    p = {
        "wte": normal(0.1, V, C), "wpe": normal(0.9, maxT, C),
        "ln1w": 1 + normal(0.1, L, C), "ln1b": normal(0.1, L, C),
        "qkvw": normal(C ** -0.5, L, 3 * C, C), "qkvb": normal(0.1, L, 3 * C),
        "attprojw": normal(6 * C ** -0.5, L, C, C), "attprojb": normal(0.1, L, C),
        "ln2w": 1 + normal(0.1, L, C), "ln2b": normal(0.1, L, C),
        "fcw": normal(C ** -0.5, L, 4 * C, C), "fcb": normal(0.1, L, 4 * C),
        "fcprojw": normal(6 * (4 * C) ** -0.5, L, C, 4 * C), "fcprojb": normal(0.1, L, C),
        "lnfw": 1 + normal(0.1, C), "lnfb": normal(0.1, C),
    }
    if untied:
        p["output"] = normal(0.1, V, C)
    return p


def tokenizer_vocabulary():
    with open(TOKENIZER, encoding="utf-8") as f:
        data = json.load(f)
    vocab = data["model"]["vocab"]
    tokens = [None] * len(vocab)
    for token, i in vocab.items():
        tokens[i] = token
    special = {t["id"] for t in data["added_tokens"]}
    types = [3 if i in special else 1 for i in range(len(tokens))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    return tokens, types, merges, min(special)


def write_gguf(path, p, shape, qtype, with_tokenizer=True):
    w = gguf.GGUFWriter(path, "gpt2")
    w.add_context_length(shape["maxT"])
    w.add_embedding_length(shape["C"])
    w.add_feed_forward_length(4 * shape["C"])
    w.add_block_count(shape["L"])
    w.add_head_count(shape["NH"])
    w.add_layer_norm_eps(1e-5)
    if with_tokenizer:
        tokens, types, merges, eot = tokenizer_vocabulary()
        w.add_tokenizer_model("gpt2")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(eot)
        w.add_eos_token_id(eot)
    def add(name, array):
        array = np.ascontiguousarray(array, dtype=np.float32)
        if array.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, array)  # norms and biases stay f32, as llama.cpp writes them
        elif qtype == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, array.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(array, qtype), raw_dtype=qtype)
    for name in ["wte", "wpe"]:
        add(GGUF_NAMES[name], p[name])
    for l in range(shape["L"]):
        for name in PER_LAYER:
            add(f"blk.{l}.{GGUF_NAMES[name]}", p[name][l])
    add(GGUF_NAMES["lnfw"], p["lnfw"])
    add(GGUF_NAMES["lnfb"], p["lnfb"])
    if "output" in p:
        add("output.weight", p["output"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def read_gguf(path, shape):
    """The reference's view of a GGUF file: every tensor dequantized by the gguf package."""
    r = gguf.GGUFReader(path)
    t = {x.name: gguf.quants.dequantize(x.data, x.tensor_type).astype(np.float32) for x in r.tensors}
    p = {name: t[GGUF_NAMES[name]] for name in ["wte", "wpe", "lnfw", "lnfb"]}
    for name in PER_LAYER:
        p[name] = np.stack([t[f"blk.{l}.{GGUF_NAMES[name]}"].reshape(-1 if name[-1] == "b" or name.startswith("ln") else t[f"blk.{l}.{GGUF_NAMES[name]}"].shape)
                            for l in range(shape["L"])])
    if "output.weight" in t:
        p["output"] = t["output.weight"]
    return p


def hf_tensors(p, shape, dtype, prefix, lm_head):
    """Hugging Face's names and layouts (Conv1D weights [in, out]), in insertion order."""
    tensors = {}
    for name in ["wte", "wpe", "lnfw", "lnfb"]:
        tensors[prefix + HF_NAMES[name]] = p[name].astype(dtype)
    for l in range(shape["L"]):
        for name in PER_LAYER:
            array = p[name][l].T if name in CONV1D else p[name][l]
            tensors[f"{prefix}h.{l}.{HF_NAMES[name]}"] = np.ascontiguousarray(array).astype(dtype)
    if lm_head:
        tensors["lm_head.weight"] = p.get("output", p["wte"]).astype(dtype)
    return tensors


def write_hf_files(folder, shape):
    os.makedirs(folder, exist_ok=True)
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": shape["C"], "n_layer": shape["L"],
              "n_head": shape["NH"], "n_positions": shape["maxT"], "n_ctx": shape["maxT"], "vocab_size": shape["V"],
              "layer_norm_epsilon": 1e-05, "activation_function": "gelu_new", "n_inner": None}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    shutil.copy(TOKENIZER, os.path.join(folder, "tokenizer.json"))


def write_hf(folder, p, shape, dtype, prefix, lm_head):
    write_hf_files(folder, shape)
    save_file(hf_tensors(p, shape, dtype, prefix, lm_head), os.path.join(folder, "model.safetensors"))


def write_index(folder, weight_map, total_size):
    """model.safetensors.index.json as transformers' save_pretrained writes it."""
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


def write_hf_sharded(folder, p, shape, dtype, prefix, lm_head):
    """The model in shards of at most the embedding's size, filled in order
    (as save_pretrained's max_shard_size does): here 3 shards. Returns {shard: {name: array}}."""
    write_hf_files(folder, shape)
    tensors = hf_tensors(p, shape, dtype, prefix, lm_head)
    limit = tensors[prefix + "wte.weight"].nbytes
    groups, size = [[]], 0
    for name, array in tensors.items():
        if groups[-1] and size + array.nbytes > limit:
            groups.append([])
            size = 0
        groups[-1].append(name)
        size += array.nbytes
    shards = {}
    for i, names in enumerate(groups):
        shard = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        shards[shard] = {name: tensors[name] for name in names}
        save_file(shards[shard], os.path.join(folder, shard), metadata={"format": "pt"})
    write_index(folder, {name: shard for shard, named in shards.items() for name in named},
                sum(array.nbytes for array in tensors.values()))
    return shards


def write_bad_shardings(out, p, shape):
    """Sharded folders each broken in one way, for the refusals."""
    def variant(name):
        folder = os.path.join(out, f"sharded_{name}")
        return folder, write_hf_sharded(folder, p, shape, np.float32, "", lm_head=False)

    def rewrite_index(folder, change):
        path = os.path.join(folder, "model.safetensors.index.json")
        with open(path) as f:
            index = json.load(f)
        change(index["weight_map"])
        with open(path, "w") as f:
            json.dump(index, f, indent=2)

    folder, _ = variant("not_json")
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        f.write('{"weight_map": {"wte.weight": ')
    folder, _ = variant("no_weight_map")
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}}, f)
    folder, shards = variant("missing_shard")
    os.remove(os.path.join(folder, list(shards)[1]))
    folder, _ = variant("parent_path")
    rewrite_index(folder, lambda m: m.update({"wpe.weight": "../hf_f32/model.safetensors"}))
    folder, _ = variant("absolute_path")
    rewrite_index(folder, lambda m: m.update({"wpe.weight": os.path.abspath(os.path.join(out, "hf_f32", "model.safetensors"))}))
    folder, shards = variant("lacks_tensor")
    second = list(shards)[1]
    save_file({k: v for k, v in shards[second].items() if k != "ln_f.bias"}, os.path.join(folder, second))
    folder, shards = variant("two_shards")
    first, second = list(shards)[:2]
    save_file(dict(shards[first], **{"ln_f.bias": shards[second]["ln_f.bias"]}), os.path.join(folder, first))
    folder, shards = variant("misplaced")
    rewrite_index(folder, lambda m: m.update({"ln_f.bias": list(shards)[0]}))
    folder, _ = variant("unmapped")
    rewrite_index(folder, lambda m: m.pop("h.1.mlp.c_fc.bias"))
    folder, shards = variant("not_safetensors")
    with open(os.path.join(folder, list(shards)[-1]), "wb") as f:
        f.write(b"GGUF" + bytes(60))


def read_hf(folder, shape):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        stored = {k: v for shard in shards for k, v in load_file(os.path.join(folder, shard)).items()}
    else:
        stored = load_file(os.path.join(folder, "model.safetensors"))
    t = {k.removeprefix("transformer."): v.astype(np.float32) for k, v in stored.items()}
    p = {name: t[HF_NAMES[name]] for name in ["wte", "wpe", "lnfw", "lnfb"]}
    for name in PER_LAYER:
        p[name] = np.stack([t[f"h.{l}.{HF_NAMES[name]}"].T if name in CONV1D else t[f"h.{l}.{HF_NAMES[name]}"]
                            for l in range(shape["L"])])
    if "lm_head.weight" in t:
        p["output"] = t["lm_head.weight"]
    return p


def clear_seed(shape, untied=False):
    """The first seed whose greedy run has a clear top-2 margin at every step
    (so f32 against f64 arithmetic cannot flip an argmax) and varied tokens."""
    config = dict(shape, Vp=shape["V"])
    for seed in range(100):
        p = random_params(shape, seed, untied)
        seq, ids, margin = list(PROMPT), [], 1.0
        for _ in range(GREEDY_TOKENS):
            logits = forward(p, config, seq)[-1]
            top = np.sort(logits)
            margin = min(margin, (top[-1] - top[-2]) / max(1.0, np.abs(logits).max()))
            seq.append(int(np.argmax(logits)))
            ids.append(seq[-1])
        if margin >= 3e-3 and len(set(ids)) >= 6:
            return seed
    raise SystemExit("no seed gives clear margins")


def expectation(p, shape, long=False):
    """Greedy tokens and the last logits of the prompt; with `long`, also the
    last logits of prompt + greedy tokens (17 tokens: the engine's prefill path)."""
    config = dict(shape, Vp=shape["V"])
    logits = forward(p, config, PROMPT)[-1]
    greedy = generate_greedy(p, config, PROMPT, GREEDY_TOKENS, shape["maxT"])
    result = {"prompt": PROMPT, "greedy": greedy, "logits_last": [float(x) for x in logits]}
    if long:
        result["logits_long"] = [float(x) for x in forward(p, config, PROMPT + greedy)[-1]]
    return result


def write_fixtures(out):
    os.makedirs(out, exist_ok=True)
    p = random_params(SHAPE, clear_seed(SHAPE))
    expected = {}
    write_hf(os.path.join(out, "hf_f32"), p, SHAPE, np.float32, "transformer.", lm_head=True)
    write_hf(os.path.join(out, "hf_f16"), p, SHAPE, np.float16, "", lm_head=False)
    write_hf_sharded(os.path.join(out, "hf_sharded"), p, SHAPE, np.float32, "transformer.", lm_head=True)
    for name in ["hf_f32", "hf_f16", "hf_sharded"]:
        expected[name] = expectation(read_hf(os.path.join(out, name), SHAPE), SHAPE)
    for type_name, qtype in TYPES.items():
        path = os.path.join(out, f"gguf_{type_name}.gguf")
        write_gguf(path, p, SHAPE, qtype)
        expected[f"gguf_{type_name}"] = expectation(read_gguf(path, SHAPE), SHAPE)
    untied = random_params(SHAPE, clear_seed(SHAPE, untied=True), untied=True)
    write_hf(os.path.join(out, "untied_hf_f16"), untied, SHAPE, np.float16, "transformer.", lm_head=True)
    expected["untied_hf_f16"] = expectation(read_hf(os.path.join(out, "untied_hf_f16"), SHAPE), SHAPE, long=True)
    for type_name in ["f32", "q8_0"]:
        path = os.path.join(out, f"untied_gguf_{type_name}.gguf")
        write_gguf(path, untied, SHAPE, TYPES[type_name])
        expected[f"untied_gguf_{type_name}"] = expectation(read_gguf(path, SHAPE), SHAPE, long=True)
    write_hf(os.path.join(out, "hf_bad_lm_head"), dict(untied, output=untied["output"][:, :SHAPE["C"] // 2]), SHAPE,
             np.float32, "", lm_head=True)
    write_bad_shardings(out, p, SHAPE)
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(TOKENIZER)
    expected["tokenizer_cases"] = [{"text": text, "ids": tokenizer.encode(text).ids} for text in TOKENIZER_TEXTS]
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


def write_seeds(out):
    """Tiny files (a few KB) so the fuzzers spend their time on structure, not on bulk data."""
    os.makedirs(out, exist_ok=True)
    shape = dict(maxT=4, V=8, L=1, NH=1, C=32)
    p = random_params(shape, seed=1)
    for type_name in ["f32", "q8_0"]:
        write_gguf(os.path.join(out, f"seed_{type_name}.gguf"), p, shape, TYPES[type_name], with_tokenizer=False)
    write_gguf(os.path.join(out, "seed_untied_q8_0.gguf"), random_params(shape, seed=1, untied=True), shape, TYPES["q8_0"],
               with_tokenizer=False)
    w = gguf.GGUFWriter(os.path.join(out, "seed_tokenizer.gguf"), "gpt2")
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["a", "b", "ab", "<|endoftext|>"])
    w.add_token_types([1, 1, 1, 3])
    w.add_token_merges(["a b"])
    w.add_array("seed.nested", [1, 2, 3])
    w.add_float64("seed.f64", 0.5)
    w.add_bool("seed.bool", True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    for dtype, prefix in [(np.float32, "transformer."), (np.float16, "")]:
        folder = os.path.join(out, f"hf_{np.dtype(dtype).name}")
        write_hf(folder, p, shape, dtype, prefix, lm_head=dtype == np.float32)
        shutil.copy(os.path.join(folder, "model.safetensors"), os.path.join(out, f"seed_{np.dtype(dtype).name}.safetensors"))
        shutil.copy(os.path.join(folder, "config.json"), os.path.join(out, f"seed_{np.dtype(dtype).name}_config.json"))
        shutil.rmtree(folder)
    tensors = hf_tensors(p, shape, np.float32, "transformer.", lm_head=False)
    write_index(out, {name: f"model-0000{1 + i % 2}-of-00002.safetensors" for i, name in enumerate(tensors)},
                sum(array.nbytes for array in tensors.values()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--seeds":
        write_seeds(sys.argv[2])
    elif len(sys.argv) == 2:
        write_fixtures(sys.argv[1])
    else:
        sys.exit(__doc__)
