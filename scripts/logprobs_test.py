#!/usr/bin/env python3
"""Log-probabilities and echo scores from a real gpt-server against the float64
numpy reference (scripts/reference_gpt.py), with the official `openai` client.

Starts gpt-server on a free loopback port with a small random model (made by
gpt-random-model, context 128) and the test tokenizer, then checks:
  1. echo scoring of a prompt longer than the context (max_tokens 0, as
     lm-evaluation-harness asks): the prompt comes back, the first token's
     log-probability is null, the others and their top alternatives equal the
     reference's sliding-window log-softmax (windows of 128, stride 64) to 1e-4;
     tokens join into the prompt and text_offset counts characters;
  2. /generate with logprobs (NDJSON and stream:false): each drawn token's
     log-probability and alternatives equal the reference log-softmax of the
     last position of its window, whatever the sampler (top_k, temp);
  3. /v1/completions with logprobs, streamed and not, give the same tokens and numbers;
  4. out-of-range logprobs are refused with the client's BadRequestError;
  5. gpt-score's perplexity and bits per character of a file, with its own
     window and stride, equal the reference's;
  6. /v1/chat/completions with logprobs and top_logprobs, streamed and not: each
     token's entry (found by its bytes) and its alternatives equal the reference
     log-softmax after the chat template's prompt; top_logprobs without
     logprobs, or out of range, is refused.
Token ids come from the `tokenizers` library, not from the server.
Prints `logprobs: N passed, M failed` and exits non-zero on any failure.

  python3 scripts/logprobs_test.py [--build .build/debug]
"""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import openai
import tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from reference_gpt import forward, load_checkpoint  # noqa: E402
from test_server import TOKENIZER, Checks, TestServer  # noqa: E402

CONTEXT = 128
TOLERANCE = 1e-4
LONG_TEXT = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
             "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles "
             "and by opposing end them. To die: to sleep; no more; and by a sleep to say we end the "
             "heart-ache and the thousand natural shocks that flesh is heir to. ") * 3


def byte_level_vocabulary(tokenizer):
    """Each token's bytes -> its id, from the tokenizer file's vocabulary: GPT-2's
    byte-level alphabet (printable bytes as themselves, the others as U+0100 on)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    alphabet = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            alphabet[chr(256 + extra)] = b
            extra += 1
    added = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
    return {(piece.encode() if piece in added else bytes(alphabet[c] for c in piece)): id
            for piece, id in tokenizer.get_vocab(with_added_tokens=True).items()}


def log_softmax(logits):
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


def sliding_scores(params, config, ids, window, stride):
    """Per token (None first): log-softmax row predicting it, by the README's windows."""
    rows = [None]
    start = 0
    while len(rows) < len(ids):
        end = min(start + window, len(ids) - 1)
        start = max(0, end - window)
        logits = forward(params, config, ids[start:end])
        for position in range(len(rows) - 1, end):
            rows.append(log_softmax(logits[position - start]))
        start += stride
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/debug")
    args = parser.parse_args()
    check = Checks("logprobs")
    with TestServer(args.build, context=CONTEXT) as server:
        run(server, args.build, check)
    check.finish()


def run(server, build, check):
    config, params = load_checkpoint(server.checkpoint)
    tokenizer = tokenizers.Tokenizer.from_file(TOKENIZER)
    port, checkpoint, folder = server.port, server.checkpoint, server.folder

    def post(path, body, accept="application/json"):
        status, text = server.post(path, body, accept)
        check(f"{path} status", status == 200, text)
        return text

    def close(a, b):
        return abs(a - b) < TOLERANCE

    def check_row(name, row, token_id, logprob, top_values):
        """`logprob` of token_id and the sorted top values against the reference row."""
        expected_top = np.sort(row)[::-1][:len(top_values)]
        check(f"{name} logprob", close(logprob, row[token_id]), f"{logprob} vs {row[token_id]}")
        check(f"{name} top", all(close(a, b) for a, b in zip(sorted(top_values, reverse=True), expected_top)),
              f"{top_values} vs {expected_top}")

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
    model = client.models.list().data[0].id

    # 1. Echo scoring, longer than the context.
    ids = tokenizer.encode(LONG_TEXT).ids
    check("long prompt", len(ids) > 2 * CONTEXT, len(ids))
    scored = client.completions.create(model=model, prompt=LONG_TEXT, max_tokens=0, echo=True, logprobs=3)
    choice = scored.choices[0]
    lp = choice.logprobs
    check("echo text", choice.text == LONG_TEXT, choice.text[:40])
    check("echo token count", len(lp.tokens) == len(ids) == len(lp.token_logprobs), f"{len(lp.tokens)} vs {len(ids)}")
    check("first token null", lp.token_logprobs[0] is None and lp.top_logprobs[0] is None, lp.token_logprobs[:2])
    check("tokens join into the prompt", "".join(lp.tokens) == LONG_TEXT)
    offsets = [len(tokenizer.decode(ids[:i])) for i in range(len(ids))]
    check("text offsets", lp.text_offset == offsets, f"{lp.text_offset[:5]} vs {offsets[:5]}")
    check("no completion", scored.usage.completion_tokens == 0, scored.usage)
    rows = sliding_scores(params, config, ids, CONTEXT, CONTEXT // 2)
    for i in range(1, len(ids)):
        check_row(f"echo token {i}", rows[i], ids[i], lp.token_logprobs[i], list(lp.top_logprobs[i].values()))

    # 2. /generate: each drawn token against the log-softmax of its window's last position.
    prompt = "To be, or not to be:"
    body = {"prompt": prompt, "num_tokens": 12, "max_seq_len": 16, "top_k": 40, "temp": 0.7, "seed": 9,
            "logprobs": 4}
    lines = [json.loads(line) for line in post("/generate", body, "application/x-ndjson").splitlines()]
    tokens = [line for line in lines if "id" in line]
    whole = json.loads(post("/generate", {**body, "stream": False}))
    check("generate token count", len(tokens) == 12 == len(whole["logprobs"]), len(tokens))
    sequence = tokenizer.encode(prompt).ids
    for step, token in enumerate(tokens):
        row = log_softmax(forward(params, config, sequence[-16:])[-1])
        check_row(f"generate step {step}", row, token["id"], token["logprob"],
                  [alternative["logprob"] for alternative in token["top_logprobs"]])
        check(f"generate step {step} alternatives", [a["id"] for a in token["top_logprobs"]] ==
              [int(i) for i in np.argsort(-row, kind="stable")[:4]], token["top_logprobs"])
        check(f"generate step {step} same without streaming",
              {k: token[k] for k in ("id", "token", "logprob", "top_logprobs")} == whole["logprobs"][step],
              f"{token} vs {whole['logprobs'][step]}")
        sequence.append(token["id"])

    # 3. /v1 with logprobs, streamed and not.
    request = dict(model=model, prompt=prompt, max_tokens=10, seed=4, logprobs=2)
    whole = client.completions.create(**request).choices[0]
    chunks = [c for c in client.completions.create(**request, stream=True) if c.choices and c.choices[0].logprobs]
    streamed = [(t, v) for c in chunks for t, v in zip(c.choices[0].logprobs.tokens, c.choices[0].logprobs.token_logprobs)]
    check("v1 logprobs count", len(whole.logprobs.tokens) == 10 and len(streamed) == 10, len(streamed))
    check("v1 streamed equals whole", streamed == list(zip(whole.logprobs.tokens, whole.logprobs.token_logprobs)),
          f"{streamed[:3]} vs {whole.logprobs.tokens[:3]}")
    check("v1 offsets start after the prompt", whole.logprobs.text_offset[0] == len(prompt), whole.logprobs.text_offset[:3])
    check("v1 top has 2 entries", all(len(top) == 2 for top in whole.logprobs.top_logprobs), whole.logprobs.top_logprobs[:2])

    # 4. Out of range.
    for value in (-1, 21):
        try:
            client.completions.create(model=model, prompt="x", logprobs=value)
            check(f"logprobs {value} refused", False, "no error")
        except openai.BadRequestError as error:
            check(f"logprobs {value} refused", "logprobs" in str(error) and "20" in str(error), str(error))

    # 5. gpt-score.
    text_file = os.path.join(folder, "text.txt")
    with open(text_file, "w") as f:
        f.write(LONG_TEXT)
    score = subprocess.run([os.path.join(build, "gpt-score"), text_file, "--ckpt", checkpoint,
                            "--tokenizer", TOKENIZER, "--max_seq_len", "40", "--stride", "15"],
                           capture_output=True, text=True)
    rows = sliding_scores(params, config, ids, 40, 15)
    nats = -sum(rows[i][ids[i]] for i in range(1, len(ids)))
    characters = len(tokenizer.decode(ids[1:]))
    figures = re.search(r"(\d+) tokens scored, (\d+) characters, [\d.]+ nats/token, perplexity ([\d.]+), "
                        r"bits per character ([\d.]+)", score.stdout)
    check("gpt-score output", score.returncode == 0 and figures, score.stdout + score.stderr)
    if figures:
        perplexity, bpc = float(figures.group(3)), float(figures.group(4))
        expected_perplexity = np.exp(nats / (len(ids) - 1))
        expected_bpc = nats / np.log(2) / characters
        check("gpt-score counts", (int(figures.group(1)), int(figures.group(2))) == (len(ids) - 1, characters),
              figures.group(0))
        check("gpt-score perplexity", abs(perplexity / expected_perplexity - 1) < 1e-5,
              f"{perplexity} vs {expected_perplexity}")
        check("gpt-score bits per character", abs(bpc - expected_bpc) < 1e-5, f"{bpc} vs {expected_bpc}")
    run_chat(client, model, params, config, tokenizer, check, check_row)

    refused = subprocess.run([os.path.join(build, "gpt-score"), text_file, "--ckpt", checkpoint,
                              "--tokenizer", TOKENIZER, "--max_seq_len", "40", "--stride", "41"],
                             capture_output=True, text=True)
    check("gpt-score stride above the window refused", refused.returncode == 2 and "--stride" in refused.stderr,
          refused.stderr)


def run_chat(client, model, params, config, tokenizer, check, check_row):
    """6. Chat log-probabilities after the default template's prompt."""
    ids_of = byte_level_vocabulary(tokenizer)
    messages = [{"role": "user", "content": "What news from Verona?"}]
    request = dict(model=model, messages=messages, max_tokens=10, seed=5, temperature=0.9, logprobs=True, top_logprobs=3)
    whole = client.chat.completions.create(**request).choices[0]
    entries = whole.logprobs.content
    check("chat logprobs count", 0 < len(entries) <= 10, len(entries))
    sequence = tokenizer.encode("User: What news from Verona?\nAssistant:").ids
    for step, entry in enumerate(entries):
        token_id = ids_of.get(bytes(entry.bytes))
        check(f"chat step {step} bytes name a token", token_id is not None, entry.bytes)
        if token_id is None:
            return
        row = log_softmax(forward(params, config, sequence[-CONTEXT:])[-1])
        check_row(f"chat step {step}", row, token_id, entry.logprob, [top.logprob for top in entry.top_logprobs])
        check(f"chat step {step} alternatives", [ids_of.get(bytes(top.bytes)) for top in entry.top_logprobs]
              == [int(i) for i in np.argsort(-row, kind="stable")[:3]], entry.top_logprobs)
        check(f"chat step {step} token text", entry.token == bytes(entry.bytes).decode("utf-8", "replace")
              or entry.token.startswith("bytes:"), entry.token)
        sequence.append(token_id)
    if whole.finish_reason == "length":
        text = b"".join(bytes(entry.bytes) for entry in entries).decode("utf-8", "replace")
        check("chat tokens join into the reply", text.lstrip() == whole.message.content, f"{text!r} vs {whole.message.content!r}")
    streamed = [entry for chunk in client.chat.completions.create(**request, stream=True)
                if chunk.choices and chunk.choices[0].logprobs for entry in chunk.choices[0].logprobs.content]
    check("chat streamed equals whole", [e.model_dump() for e in streamed] == [e.model_dump() for e in entries],
          f"{len(streamed)} vs {len(entries)}")
    plain = client.chat.completions.create(model=model, messages=messages, max_tokens=2).choices[0]
    check("chat without logprobs has none", plain.logprobs is None, plain.logprobs)
    for extra, word in ((dict(top_logprobs=2), "logprobs: true"), (dict(logprobs=True, top_logprobs=21), "20")):
        try:
            client.chat.completions.create(model=model, messages=messages, max_tokens=1, **extra)
            check(f"chat {extra} refused", False, "no error")
        except openai.BadRequestError as error:
            check(f"chat {extra} refused", "top_logprobs" in str(error) and word in str(error), str(error))


if __name__ == "__main__":
    main()
