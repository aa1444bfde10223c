#!/usr/bin/env python3
"""Total tokens/s of gpt-server with several clients streaming at once.

Starts gpt-server on a free loopback port, then runs rounds of N concurrent
NDJSON streams (each a different seed, the whole context as window unless
--max-seq-len is given, so that every step after the prompt is a cached
decode) and reports the median total tokens/s, for 1 client and for N. The
server batches concurrent decode steps, so N clients should get well over the
speed of one. With a short --max-seq-len, every token after the window fills
recomputes the window: that measures the batched window passes.

  python3 scripts/bench_clients.py --ckpt M --tokenizer T [--clients 4] [--num-tokens 64] [--runs 3] [--max-seq-len 32]
"""
import argparse
import http.client
import json
import statistics
import threading
import time

from bench_http import add_settings_option, start_server


def stream(port, body, counts):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("POST", "/generate", json.dumps(body),
                       {"Content-Type": "application/json", "Accept": "application/x-ndjson"})
    response = connection.getresponse()
    tokens = 0
    while True:
        line = response.readline()
        if not line or json.loads(line).get("done"):
            break
        tokens += 1
    connection.close()
    counts.append(tokens)


def total_rate(port, clients, body):
    counts = []
    threads = [threading.Thread(target=stream, args=(port, dict(body, seed=k + 1), counts)) for k in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--num-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-seq-len", type=int, help="window of each generation (default: the whole context)")
    add_settings_option(parser)
    args = parser.parse_args()

    server, port = start_server(args.build, args.ckpt, args.tokenizer, args.threads,
                                [f"max_active={args.clients}"] + args.set)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", "/model")
        context = json.loads(connection.getresponse().read())["context_length"]
        body = {"prompt": "To be, or not to be:", "num_tokens": args.num_tokens, "max_seq_len": args.max_seq_len or context,
                "top_k": 5, "stream": True}
        total_rate(port, 1, body)  # warm-up
        for clients in (1, args.clients):
            rate = statistics.median(total_rate(port, clients, body) for _ in range(args.runs))
            print(f"{clients} client(s): {rate:.1f} tokens/s in all")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
