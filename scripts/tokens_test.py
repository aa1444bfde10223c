#!/usr/bin/env python3
"""Tokens in and out of a real gpt-server, against the `tokenizers` library.

  1. POST /tokenize gives the ids `tokenizers` gives for the same file and
     text (ASCII, accents, emoji, an added token), and with pieces each id's
     bytes, which join into the text;
  2. POST /detokenize turns those ids back into the text;
  3. a prompt given as token ids generates exactly what the same prompt as
     text does (same seed), on /generate and /v1/completions;
  4. bad input (ids outside the vocabulary, empty lists, wrong types,
     unknown fields) gets a 400 naming the field.
Prints `tokens: N passed, M failed` and exits non-zero on any failure.

  python3 scripts/tokens_test.py [--build .build/debug]
"""
import argparse
import json
import os
import sys

import tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import TOKENIZER, Checks, TestServer  # noqa: E402

TEXTS = ["To be, or not to be: that is the question.", "  leading spaces\nand\ttabs  ",
         "café naïve — «quotes» 日本語", "emoji 🙂👍🏽 end", "one<|endoftext|>two", "x"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/debug")
    args = parser.parse_args()
    check = Checks("tokens")
    tokenizer = tokenizers.Tokenizer.from_file(TOKENIZER)
    with TestServer(args.build) as server:
        def post(path, body):
            status, text = server.post(path, body)
            return status, json.loads(text)

        for text in TEXTS:
            expected = tokenizer.encode(text).ids
            status, body = post("/tokenize", {"content": text})
            check(f"tokenize {text!r}", status == 200 and body == {"tokens": expected}, f"{body} vs {expected}")
            status, body = post("/tokenize", {"content": text, "with_pieces": True})
            pieces = body.get("tokens", [])
            check(f"pieces ids {text!r}", [p["id"] for p in pieces] == expected, body)
            check(f"pieces bytes {text!r}", b"".join(bytes(p["bytes"]) for p in pieces) == text.encode(), body)
            check(f"pieces text {text!r}", all(p["text"] == bytes(p["bytes"]).decode() if _utf8(p["bytes"])
                                               else p["text"].startswith("bytes:\\x") for p in pieces), body)
            status, body = post("/detokenize", {"tokens": expected})
            check(f"detokenize {text!r}", status == 200 and body == {"content": text}, body)

        status, body = post("/tokenize", {"content": ""})
        check("empty content", status == 200 and body == {"tokens": []}, body)

        prompt = "To be, or not to be:"
        ids = tokenizer.encode(prompt).ids
        request = {"num_tokens": 12, "seed": 5, "stream": False}
        _, from_text = post("/generate", {"prompt": prompt, **request})
        _, from_ids = post("/generate", {"prompt": ids, **request})
        check("generate from ids", from_ids["token_ids"] == from_text["token_ids"] and
              from_ids["usage"] == from_text["usage"], f"{from_ids} vs {from_text}")
        v1 = {"model": "test-model", "max_tokens": 8, "seed": 2, "echo": True}
        _, v1_text = post("/v1/completions", {"prompt": prompt, **v1})
        _, v1_ids = post("/v1/completions", {"prompt": ids, **v1})
        check("v1 from ids", v1_ids["choices"][0]["text"] == v1_text["choices"][0]["text"] and
              v1_ids["choices"][0]["text"].startswith(prompt), f"{v1_ids} vs {v1_text}")

        bad = [("/tokenize", {}, "content"), ("/tokenize", {"content": 5}, "content"),
               ("/tokenize", {"content": "x", "with_pieces": 1}, "with_pieces"),
               ("/tokenize", {"content": "x", "extra": 1}, "extra"),
               ("/detokenize", {"tokens": [1, 2000]}, "0 to 1999"), ("/detokenize", {"tokens": [-1]}, "tokens"),
               ("/detokenize", {"tokens": "1 2"}, "tokens"), ("/detokenize", {"tokens": [1.5]}, "tokens"),
               ("/generate", {"prompt": []}, "prompt"), ("/generate", {"prompt": [1, 99999]}, "item 1"),
               ("/generate", {"prompt": [1, "a"]}, "prompt"),
               ("/v1/completions", {"model": "test-model", "prompt": [4000]}, "prompt")]
        for path, body, needle in bad:
            status, answer = post(path, body)
            message = answer.get("error", {}).get("message", "")
            check(f"{path} {body} refused", status == 400 and needle in message, f"{status} {answer}")
    check.finish()


def _utf8(data):
    try:
        bytes(data).decode()
        return True
    except UnicodeDecodeError:
        return False


if __name__ == "__main__":
    main()
