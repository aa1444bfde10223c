#!/usr/bin/env python3
"""How long a long prompt stops the running streams of gpt-server.

Starts gpt-server on a free loopback port and runs --clients NDJSON streams
(the whole context as window, so each of their tokens is a cached decode step).
Once they run, a request with a long prompt (--prompt-tokens, about) arrives.
Reports, per round, the running streams' longest gap between two tokens while
the long prompt is prefilled, as a ratio to their median gap before it arrived
(both measured in the same round), and the long prompt's time to first token.
The servers send every token as it comes (stream_flush_milliseconds=0), so
that the gaps are the scheduler's, not the chunks'.

  python3 scripts/bench_stall.py --ckpt M --tokenizer T [--clients 3] [--prompt-tokens 512] [--runs 3] [--compare-whole]

With --compare-whole, each round also runs on a server that runs prompts in
one pass (prompt_stall_factor=0), for the price of the pieces in the same minutes.
With --baseline-build DIR, each round also runs on the gpt-server in DIR, a
build of other code (a checkout's .build/release; it reads that checkout's
config/server.json), such as the code before prompts were cut in pieces.
"""
import argparse
import http.client
import json
import os
import statistics
import threading
import time

from bench_http import add_settings_option, start_server, stream_generate


def stream(port, body, arrivals, started):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("POST", "/generate", json.dumps(body),
                       {"Content-Type": "application/json", "Accept": "application/x-ndjson"})
    response = connection.getresponse()
    while True:
        line = response.readline()
        if not line:
            break
        message = json.loads(line)
        if message.get("done"):
            break
        if "id" not in message:
            continue  # a keep-alive line
        arrivals.append(time.perf_counter())
        if len(arrivals) == 20:
            started.release()
    connection.close()


def long_prompt(port, text, context):
    start, arrivals, prompt_tokens = stream_generate(port, {"prompt": text, "num_tokens": 1, "max_seq_len": context,
                                                            "stream": True})
    return start, arrivals[0] if arrivals else None, prompt_tokens


def one_round(port, clients, num_tokens, context, text):
    arrivals = [[] for _ in range(clients)]
    started = threading.Semaphore(0)
    body = {"prompt": "To be, or not to be:", "num_tokens": num_tokens, "max_seq_len": context, "top_k": 5,
            "stream": True}
    threads = [threading.Thread(target=stream, args=(port, dict(body, seed=k + 1), arrivals[k], started))
               for k in range(clients)]
    for thread in threads:
        thread.start()
    for _ in range(clients):
        started.acquire()
    start, first, prompt_tokens = long_prompt(port, text, context)
    for thread in threads:
        thread.join()
    ratios, normals = [], []
    for times in arrivals:
        before = [t for t in times if t < start]
        # The mean gap before (a reader that fell behind gets several lines at once: no single gap is typical).
        normal = (before[-1] - before[0]) / (len(before) - 1)
        during = [b - a for a, b in zip(times, times[1:]) if b >= start and a <= first]
        ratios.append(max(during) / normal)
        normals.append(normal)
    return max(ratios), statistics.median(normals), (first - start) * 1000, prompt_tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    add_settings_option(parser)
    parser.add_argument("--compare-whole", action="store_true",
                        help="also run each round on a second server that runs prompts whole (prompt_stall_factor=0)")
    parser.add_argument("--baseline-build", help="also run each round on the gpt-server of this build folder")
    args = parser.parse_args()

    # Tokens as they come (no gathering into chunks): the gaps measured are the model's.
    settings = [f"max_active={args.clients + 1}", "stream_flush_milliseconds=0"] + args.set
    servers = [("pieces", *start_server(args.build, args.ckpt, args.tokenizer, args.threads, settings))]
    if args.compare_whole:
        servers.append(("whole", *start_server(args.build, args.ckpt, args.tokenizer, args.threads,
                                               settings + ["prompt_stall_factor=0"])))
    if args.baseline_build:
        build = os.path.abspath(args.baseline_build)  # paths absolute: the server runs in the other checkout
        servers.append(("baseline", *start_server(build, os.path.abspath(args.ckpt), os.path.abspath(args.tokenizer),
                                                  args.threads, [f"max_active={args.clients + 1}"],
                                                  cwd=os.path.dirname(os.path.dirname(build)))))
    try:
        port = servers[0][2]
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", "/model")
        context = json.loads(connection.getresponse().read())["context_length"]
        # Words of about as many tokens as asked (measured on a sample: the tokenizer decides).
        words = lambda n: " ".join(f"word{k}" for k in range(n))
        per_word = long_prompt(port, words(64), context)[2] / 64
        text = words(int(args.prompt_tokens / per_word))
        for _ in range(args.runs):
            for name, _, port in servers:
                # Enough tokens to outlast the long prompt's prefill.
                ratio, gap, first_ms, prompt_tokens = one_round(port, args.clients, min(context - 16, 400), context, text)
                print(f"{name}: longest gap {ratio:.1f}x the normal {gap * 1000:.0f} ms; "
                      f"{prompt_tokens}-token prompt's first token after {first_ms:.0f} ms", flush=True)
    finally:
        for _, server, _ in servers:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
