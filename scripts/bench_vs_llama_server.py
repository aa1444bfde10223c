#!/usr/bin/env python3
"""Total tokens/s of gpt-server beside llama.cpp's llama-server, same weights, same load.

Starts gpt-server on a free loopback port; llama-server must already run on
--llama-port with the same model as a GGUF file (this script neither builds
nor starts it), with as many slots as the most clients asked for, e.g.

  llama-server -m 124M-f32.gguf --port 8090 -t 2 --parallel 8 -c 8192 --no-webui

Each client sends a prompt of --prompt-tokens token ids (the same ids to both
servers, so both see the same tokens whatever their tokenizers) and streams
--num-tokens greedy tokens, end-of-text ignored. For each client count the
two servers take turns, --runs rounds each, and the script prints the median
total tokens/s of each and their ratio as a markdown table.

  python3 scripts/bench_vs_llama_server.py --ckpt /tmp/bench/124M-f32.gguf --llama-port 8090 [--clients 1 4 8]
"""
import argparse
import http.client
import json
import statistics
import threading
import time

from bench_http import start_server


def read_stream(port, path, body, counts, generated):
    """Streams one request to its end; appends the tokens its last message says were generated."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", path, json.dumps(body),
                       {"Content-Type": "application/json", "Accept": "application/x-ndjson, text/event-stream"})
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"port {port} {path}: HTTP {response.status}: {response.read()[:200]!r}")
    while True:
        line = response.readline()
        if not line:
            break
        line = line.strip()
        if line.startswith(b"data: "):
            line = line[len(b"data: "):]
        if not line or line == b"[DONE]":
            continue
        count = generated(json.loads(line))
        if count is not None:
            counts.append(count)
            break
    connection.close()


def ours(port, prompt, num_tokens):
    body = {"prompt": prompt, "num_tokens": num_tokens, "max_seq_len": 1024, "top_k": 1, "ignore_eos": True,
            "stream": True}
    return port, "/generate", body, lambda message: message["usage"]["completion_tokens"] if message.get("done") else None


def llama(port, prompt, num_tokens):
    # llama-server may send several tokens in one chunk (it holds back an unfinished character): count its total.
    body = {"prompt": prompt, "n_predict": num_tokens, "top_k": 1, "temperature": 0, "ignore_eos": True,
            "cache_prompt": False, "stream": True}
    return port, "/completion", body, lambda message: message["tokens_predicted"] if message.get("stop") else None


def total_rate(server, clients):
    port, path, body, generated = server
    counts = []
    threads = [threading.Thread(target=read_stream, args=(port, path, body, counts, generated)) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(counts) != clients:
        raise RuntimeError("a client failed")
    return sum(counts) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="the GGUF file llama-server serves")
    parser.add_argument("--llama-port", type=int, required=True)
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--prompt-tokens", type=int, default=16)
    parser.add_argument("--num-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    server, port = start_server(args.build, args.ckpt, "", args.threads, [f"max_active={max(args.clients)}"])
    try:
        prompt = [(k * 4099 + 17) % 50000 for k in range(args.prompt_tokens)]
        mine, theirs = ours(port, prompt, args.num_tokens), llama(args.llama_port, prompt, args.num_tokens)
        total_rate(mine, 1), total_rate(theirs, 1)  # warm-up
        print("| clients | gpt-server | llama-server | ratio |\n| --- | --- | --- | --- |")
        for clients in args.clients:
            a, b = [], []
            for _ in range(args.runs):
                a.append(total_rate(mine, clients))
                b.append(total_rate(theirs, clients))
            a, b = statistics.median(a), statistics.median(b)
            print(f"| {clients} | {a:.1f} tokens/s | {b:.1f} tokens/s | {a / b:.2f} |", flush=True)
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
