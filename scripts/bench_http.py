#!/usr/bin/env python3
"""Streaming through gpt-server versus generating in-process, in one run.

Starts gpt-server on a free loopback port and measures, with the same
checkpoint, prompt length, settings (top_k 5, window = the model's context):
  - HTTP: an NDJSON stream from POST /generate, timed by this client: time to
    the first token line, and tokens/s between the first and the last token;
    read from a plain socket, each token stamped with the time of the read
    that completed its line, and parsed only after the stream ended: on two
    cores the client shares the CPU with the compute threads, and Python's
    http.client spent ~100 us a token dechunking and splitting lines, enough
    to take the compute threads' cores away (`--client http.client` measures
    that way);
  - in-process: `gpt-bench` (the same generation loop, warmed up, no HTTP):
    prefill time for the same number of prompt tokens, and decode tokens/s.
Each round runs a warm-up stream and `--runs` streams back to back, then
gpt-bench (which warms up before it measures), so both run with the weights
warm in the CPU caches (on a small model that matters: alternating single
runs would leave the server's runs cold), and rounds repeat so that the
machine's drift shows as a range instead of a bias. Prints each round's
medians and ratio, and the median ratio. Standard library only.

With `--pairs N` it also alternates N streamed requests with N `stream:
false` ones in the same server and compares each stream's tokens/s with the
next unstreamed request's decode rate (the server's own timings, which count
the model's steps only): the cost of streaming alone, with drift cancelled
pair by pair.

  python3 scripts/bench_http.py --ckpt M --tokenizer T [--num-tokens 128] [--runs 5] [--rounds 3] [--pairs 0]
"""
import argparse
import bisect
import http.client
import itertools
import json
import os
import re
import socket
import statistics
import subprocess
import time


def add_settings_option(parser):
    """--set KEY=VALUE (repeatable): server settings that start_server passes on."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a server setting (repeatable), e.g. stream_flush_milliseconds=0")


def start_server(build, ckpt, tokenizer, threads, settings=(), cwd=None):
    """gpt-server from `build` on a free port; `cwd` is where it finds config/server.json."""
    extra = [argument for setting in settings for argument in ("--set", setting)]
    server = subprocess.Popen(
        [f"{build}/gpt-server", "--port", "0", "--ckpt", ckpt, "--tokenizer", tokenizer,
         "--set", f"threads={threads}", "--set", "max_num_tokens=100000"] + extra,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=cwd)
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


def stream_generate_raw(port, body):
    """POST /generate as an NDJSON stream over a plain socket: when it was sent,
    when each token line arrived, the prompt's tokens."""
    payload = json.dumps(body).encode()
    head = (f"POST /generate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/x-ndjson\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n")
    reads = []  # (bytes, arrival): the stream as it came, parsed after it ended
    with socket.create_connection(("127.0.0.1", port)) as connection:
        start = time.perf_counter()
        connection.sendall(head.encode() + payload)
        while True:
            data = connection.recv(1 << 16)
            if not data:
                break
            reads.append((data, time.perf_counter()))
    raw = b"".join(data for data, _ in reads)
    ends = list(itertools.accumulate(len(data) for data, _ in reads))
    header_end = raw.index(b"\r\n\r\n") + 4
    assert b" 200 " in raw[:raw.index(b"\r\n")], raw[:200]
    # Dechunk, remembering for each body byte where it sat in the raw stream.
    body_bytes, positions, at = bytearray(), [], header_end
    while True:
        line_end = raw.index(b"\r\n", at)
        size = int(raw[at:line_end].split(b";")[0], 16)
        if size == 0:
            break
        body_bytes += raw[line_end + 2:line_end + 2 + size]
        positions.extend(range(line_end + 2, line_end + 2 + size))
        at = line_end + 2 + size + 2
    arrivals, prompt_tokens, line_start = [], 0, 0
    for index in range(len(body_bytes)):
        if body_bytes[index] != ord("\n"):
            continue
        message = json.loads(body_bytes[line_start:index])
        line_start = index + 1
        if message.get("done"):
            prompt_tokens = message["usage"]["prompt_tokens"]
        elif "id" in message:
            arrivals.append(reads[bisect.bisect_left(ends, positions[index] + 1)][1])
    return start, arrivals, prompt_tokens


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


def over_http(port, body, client="raw"):
    start, arrivals, prompt_tokens = (stream_generate_raw if client == "raw" else stream_generate)(port, body)
    first_token_ms = (arrivals[0] - start) * 1000
    tokens_per_second = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    return first_token_ms, tokens_per_second, prompt_tokens


def unstreamed_rate(port, body):
    """The model loop's own decode tokens/s for the same request with `stream: false` (the server's timings)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("POST", "/generate", json.dumps(dict(body, stream=False)), {"Content-Type": "application/json"})
    answer = json.loads(connection.getresponse().read())
    connection.close()
    return answer["timings"]["tokens_per_second"]


def pairs_in_one_server(port, body, client, pairs):
    """Streamed and unstreamed requests alternating in one server: the median
    of each pair's ratio, and its range (drift cancels within a pair)."""
    over_http(port, body, client)  # warm-up
    ratios = sorted(over_http(port, body, client)[1] / unstreamed_rate(port, body) for _ in range(pairs))
    print(f"streamed over HTTP / the same server's unstreamed decode, {pairs} pairs: median "
          f"{statistics.median(ratios):.3f} (range {ratios[0]:.3f} - {ratios[-1]:.3f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--prompt", default="To be, or not to be:")
    parser.add_argument("--num-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of HTTP runs then in-process runs")
    parser.add_argument("--client", choices=["raw", "http.client"], default="raw",
                        help="how this client reads the stream (see above)")
    add_settings_option(parser)
    parser.add_argument("--pairs", type=int, default=0,
                        help="also alternate this many streamed and `stream: false` requests in the server")
    args = parser.parse_args()

    server, port = start_server(args.build, args.ckpt, args.tokenizer, args.threads, settings=args.set)
    rounds = []
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", "/model")
        context = json.loads(connection.getresponse().read())["context_length"]
        body = {"prompt": args.prompt, "num_tokens": args.num_tokens, "max_seq_len": context,
                "top_k": 5, "seed": 1, "stream": True}
        for round_index in range(args.rounds):
            # A warm-up stream first: the weights back in the caches after gpt-bench.
            prompt_tokens = over_http(port, body, args.client)[2]
            before = os.times()
            remote = [over_http(port, body, args.client) for _ in range(args.runs)]
            after = os.times()
            prefill, local_rate = in_process(args.build, args.ckpt, prompt_tokens, args.num_tokens, args.threads,
                                             args.runs)
            first_token = statistics.median(r[0] for r in remote)
            remote_rate = statistics.median(r[1] for r in remote)
            client_cpu = (after.user + after.system - before.user - before.system) / (args.runs * args.num_tokens)
            rounds.append((remote_rate / local_rate, first_token - prefill))
            print(f"round {round_index + 1}: prompt {prompt_tokens} tokens, {args.num_tokens} generated, "
                  f"{args.threads} threads")
            print(f"  in-process: prefill {prefill:.2f} ms, decode {local_rate:.1f} tokens/s")
            print(f"  HTTP NDJSON ({args.client} client, {client_cpu * 1e6:.0f} us of its CPU a token with "
                  f"parsing): first token {first_token:.2f} ms, decode {remote_rate:.1f} tokens/s")
            print(f"  HTTP / in-process tokens/s: {remote_rate / local_rate:.3f}; first-token latency over HTTP "
                  f"minus in-process prefill: {first_token - prefill:+.2f} ms", flush=True)
        if args.pairs:
            pairs_in_one_server(port, body, args.client, args.pairs)
    finally:
        server.terminate()
        server.wait()
    ratios = sorted(r[0] for r in rounds)
    print(f"HTTP / in-process tokens/s over {args.rounds} rounds: median {statistics.median(ratios):.3f} "
          f"(range {ratios[0]:.3f} - {ratios[-1]:.3f}); first token "
          f"{statistics.median(r[1] for r in rounds):+.2f} ms")


if __name__ == "__main__":
    main()
