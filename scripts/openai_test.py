#!/usr/bin/env python3
"""The official `openai` Python client, unchanged, against a real gpt-server.

Starts gpt-server (with an API key) on a free loopback port, serving a small
random model made by gpt-random-model and the test tokenizer, then:
  1. streams a completion and checks it equals the same seeded completion
     asked for without streaming, with the usage the server reports;
  2. checks that a stop string ends the text and is not returned;
  3. checks that unsupported options and a wrong key raise the client's own
     error types.
Prints `openai: N passed, M failed` and exits non-zero on any failure.

  python3 scripts/openai_test.py [--build .build/debug]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import openai

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "Tests", "GPTTests", "Fixtures", "tokenizer", "gpt2ish.json")
KEY = "test-key-123"


def start_server(build, checkpoint):
    server = subprocess.Popen(
        [os.path.join(build, "gpt-server"), "--port", "0", "--ckpt", checkpoint, "--tokenizer", TOKENIZER],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "GPT_SERVER_API_KEY": KEY})
    port = int(re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline()).group(1))
    return server, port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/debug")
    args = parser.parse_args()

    folder = tempfile.mkdtemp()
    checkpoint = os.path.join(folder, "openai-test.bin")
    subprocess.run([os.path.join(args.build, "gpt-random-model"), "--out", checkpoint, "--context", "128",
                    "--vocab", "2100", "--layers", "2", "--heads", "2", "--channels", "64", "--seed", "5"],
                   check=True, stdout=subprocess.DEVNULL)
    server, port = start_server(args.build, checkpoint)
    passed = failed = 0

    def check(name, condition, detail=""):
        nonlocal passed, failed
        if condition:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name}: {detail}")

    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0)
        model = client.models.list().data[0].id
        check("model id", model == "openai-test", model)

        whole = client.completions.create(model=model, prompt="To be, or not to be:", max_tokens=20, seed=3)
        chunks = list(client.completions.create(model=model, prompt="To be, or not to be:", max_tokens=20, seed=3,
                                                stream=True, stream_options={"include_usage": True}))
        streamed = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
        check("stream has several chunks", len(chunks) > 5, len(chunks))
        check("stream equals the whole completion", streamed == whole.choices[0].text,
              f"{streamed!r} vs {whole.choices[0].text!r}")
        check("finish reason", whole.choices[0].finish_reason == "length", whole.choices[0].finish_reason)
        check("usage", whole.usage.completion_tokens == 20 and chunks[-1].usage.completion_tokens == 20,
              f"{whole.usage} / {chunks[-1].usage}")

        text = whole.choices[0].text
        stop = text[6:9]
        stopped = client.completions.create(model=model, prompt="To be, or not to be:", max_tokens=20, seed=3, stop=[stop])
        check("stop string", stopped.choices[0].text == text[:text.index(stop)] and
              stopped.choices[0].finish_reason == "stop", repr(stopped.choices[0].text))

        try:
            client.completions.create(model=model, prompt="x", n=2)
            check("n > 1 refused", False, "no error")
        except openai.BadRequestError as error:
            check("n > 1 refused", error.status_code == 400 and "n = 1" in str(error), str(error))

        try:
            openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0).models.list()
            check("wrong key refused", False, "no error")
        except openai.AuthenticationError as error:
            check("wrong key refused", error.status_code == 401, str(error))
    finally:
        server.terminate()
        server.wait()

    print(f"openai: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
