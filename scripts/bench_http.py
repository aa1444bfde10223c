#!/usr/bin/env python3
"""Streaming through gpt-server versus generating in-process, in one run.

Starts gpt-server on a free loopback port and measures, with the same
checkpoint, prompt length, settings (top_k 5, window = the model's context):
  - HTTP: an NDJSON stream from POST /generate, timed by this client: time to
    the first token line, and tokens/s between the first and the last token;
  - in-process: `gpt-bench` (the same generation loop, warmed up, no HTTP):
    prefill time for the same number of prompt tokens, and decode tokens/s.
The HTTP runs go back to back and gpt-bench warms up before it measures, so
both run with the weights warm in the CPU caches (on a small model that
matters: alternating the two would leave the server's runs cold). Prints
medians and the ratios the README records. Standard library only.

  python3 scripts/bench_http.py --ckpt M --tokenizer T [--num-tokens 128] [--runs 5]
"""
import argparse
import http.client
import json
import re
import statistics
import subprocess
import time


def start_server(build, ckpt, tokenizer, threads, settings=()):
    extra = [argument for setting in settings for argument in ("--set", setting)]
    server = subprocess.Popen(
        [f"{build}/gpt-server", "--port", "0", "--ckpt", ckpt, "--tokenizer", tokenizer,
         "--set", f"threads={threads}", "--set", "max_num_tokens=100000"] + extra,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
    return server, port


def in_process(build, ckpt, prompt_tokens, num_tokens, threads, runs):
    result = subprocess.run(
        [f"{build}/gpt-bench", "--model", ckpt, "--prompt-tokens", str(prompt_tokens),
         "--decode-tokens", str(num_tokens - 1), "--threads", str(threads), "--repetitions", str(runs), "--json"],
        capture_output=True, text=True, check=True)
    bench = json.loads(result.stdout)
    return prompt_tokens / bench["prefill_tokens_per_s"] * 1000, bench["decode_tokens_per_s"]


def stream_generate(port, body):
    """POST /generate as an NDJSON stream: when it was sent, when each token line arrived, the prompt's tokens."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    start = time.perf_counter()
    connection.request("POST", "/generate", json.dumps(body),
                       {"Content-Type": "application/json", "Accept": "application/x-ndjson"})
    response = connection.getresponse()
    arrivals = []
    prompt_tokens = 0
    while True:
        line = response.readline()
        if not line:
            break
        message = json.loads(line)
        if message.get("done"):
            prompt_tokens = message["usage"]["prompt_tokens"]
            break
        if "id" in message:
            arrivals.append(time.perf_counter())
    connection.close()
    return start, arrivals, prompt_tokens


def over_http(port, body):
    start, arrivals, prompt_tokens = stream_generate(port, body)
    first_token_ms = (arrivals[0] - start) * 1000
    tokens_per_second = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    return first_token_ms, tokens_per_second, prompt_tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--prompt", default="To be, or not to be:")
    parser.add_argument("--num-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    server, port = start_server(args.build, args.ckpt, args.tokenizer, args.threads)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", "/model")
        context = json.loads(connection.getresponse().read())["context_length"]
        body = {"prompt": args.prompt, "num_tokens": args.num_tokens, "max_seq_len": context,
                "top_k": 5, "seed": 1, "stream": True}
        prompt_tokens = over_http(port, body)[2]  # also the warm-up: pages the weights in
        remote = [over_http(port, body) for _ in range(args.runs)]
    finally:
        server.terminate()
        server.wait()
    prefill, local_rate = in_process(args.build, args.ckpt, prompt_tokens, args.num_tokens, args.threads, args.runs)

    first_token = statistics.median(r[0] for r in remote)
    remote_rate = statistics.median(r[1] for r in remote)
    print(f"prompt {prompt_tokens} tokens, {args.num_tokens} generated, {args.threads} threads")
    print(f"in-process: prefill {prefill:.2f} ms, decode {local_rate:.1f} tokens/s")
    print(f"HTTP NDJSON: first token {first_token:.2f} ms, decode {remote_rate:.1f} tokens/s")
    print(f"HTTP / in-process tokens/s: {remote_rate / local_rate:.3f}; "
          f"first-token latency over HTTP minus in-process prefill: {first_token - prefill:+.2f} ms")


if __name__ == "__main__":
    main()
