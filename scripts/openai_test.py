#!/usr/bin/env python3
"""The official `openai` Python client, unchanged, against a real gpt-server.

Starts gpt-server (with an API key) on a free loopback port, serving a small
random model made by gpt-random-model and the test tokenizer, then:
  1. streams a completion and checks it equals the same seeded completion
     asked for without streaming, with the usage the server reports;
  2. checks that a stop string ends the text and is not returned;
  3. asks for n choices and for a batch of prompts, streamed and not: each
     choice has its index, a seeded choice k is the seed + k run alone, and
     the stream's chunks rebuild the same texts;
  4. checks that out-of-range options and a wrong key raise the client's own
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

        def alone(prompt, seed):
            return client.completions.create(model=model, prompt=prompt, max_tokens=8, seed=seed).choices[0].text

        several = client.completions.create(model=model, prompt="To be", max_tokens=8, seed=20, n=3)
        check("n choices", [c.index for c in several.choices] == [0, 1, 2], several.choices)
        check("choice k is seed + k", [c.text for c in several.choices] == [alone("To be", 20 + k) for k in range(3)],
              several.choices)
        check("n usage", several.usage.completion_tokens == 24 and several.usage.prompt_tokens ==
              client.completions.create(model=model, prompt="To be", max_tokens=0).usage.prompt_tokens, several.usage)
        batch = client.completions.create(model=model, prompt=["To be", "My kingdom"], max_tokens=8, seed=20, n=2)
        check("batch choices", [c.index for c in batch.choices] == [0, 1, 2, 3] and
              [c.text for c in batch.choices] == [alone("To be", 20), alone("To be", 21),
                                                   alone("My kingdom", 20), alone("My kingdom", 21)], batch.choices)
        streamed = {}
        finishes = {}
        chunks = list(client.completions.create(model=model, prompt=["To be", "My kingdom"], max_tokens=8, seed=20, n=2,
                                                stream=True, stream_options={"include_usage": True}))
        for chunk in chunks:
            for choice in chunk.choices:
                streamed[choice.index] = streamed.get(choice.index, "") + choice.text
                if choice.finish_reason:
                    finishes[choice.index] = choice.finish_reason
        check("batch stream rebuilds the texts", streamed == {c.index: c.text for c in batch.choices}, streamed)
        check("batch stream finishes each choice", finishes == {i: "length" for i in range(4)}, finishes)
        check("batch stream usage", chunks[-1].usage.completion_tokens == 32, chunks[-1].usage)

        # Chat: the reply is the completion of the documented template, up to the turn marker.
        messages = [{"role": "system", "content": "A play."}, {"role": "user", "content": "Who art thou?"},
                    {"role": "assistant", "content": "A friend."}, {"role": "user", "content": "Speak again."}]
        rendered = "A play.\nUser: Who art thou?\nAssistant: A friend.\nUser: Speak again.\nAssistant:"
        for seed in (1, 2, 3):
            chat = client.chat.completions.create(model=model, messages=messages, max_tokens=30, seed=seed)
            plain = client.completions.create(model=model, prompt=rendered, max_tokens=30, seed=seed, stop=["\nUser:"])
            reply = chat.choices[0].message
            check(f"chat {seed} is the template's completion", reply.role == "assistant" and
                  reply.content == plain.choices[0].text.lstrip() and
                  chat.choices[0].finish_reason == plain.choices[0].finish_reason, f"{reply} vs {plain.choices[0]}")
            check(f"chat {seed} usage", chat.usage == plain.usage, f"{chat.usage} vs {plain.usage}")
            stream = list(client.chat.completions.create(model=model, messages=messages, max_tokens=30, seed=seed,
                                                         stream=True, stream_options={"include_usage": True}))
            content = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            check(f"chat {seed} stream", content == reply.content and stream[0].choices[0].delta.role == "assistant" and
                  stream[-1].usage.completion_tokens == chat.usage.completion_tokens, f"{content!r} vs {reply.content!r}")
        both = client.chat.completions.create(model=model, messages=messages, max_tokens=10, seed=5, n=2)
        check("chat n", [c.index for c in both.choices] == [0, 1] and both.choices[0].message.content ==
              client.chat.completions.create(model=model, messages=messages, max_tokens=10, seed=5).choices[0].message.content,
              both.choices)
        for bad_messages in ([{"role": "wizard", "content": "hi"}], [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                             [], [{"role": "user"}]):
            try:
                client.chat.completions.create(model=model, messages=bad_messages)
                check(f"chat {bad_messages} refused", False, "no error")
            except openai.BadRequestError as error:
                check(f"chat {bad_messages} refused", "messages" in str(error), str(error))

        for bad in (dict(n=17), dict(n=0), dict(prompt=["a"] * 9, n=2), dict(prompt=["a", 5])):
            try:
                client.completions.create(model=model, **{"prompt": "x", **bad})
                check(f"{bad} refused", False, "no error")
            except openai.BadRequestError as error:
                check(f"{bad} refused", error.status_code == 400 and ("n" in str(error) or "prompt" in str(error)),
                      str(error))

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
