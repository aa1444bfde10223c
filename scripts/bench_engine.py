#!/usr/bin/env python3
"""The engine's speed table: gpt-bench on one model at 1 and 2 threads, on a
quiet CPU and beside busy neighbours, rounds interleaved so that the
machine's drift hits every configuration alike; optionally llama.cpp's
llama-bench on a GGUF file of the same weights in the same rounds.

  python3 scripts/bench_engine.py --model M [--prompt-tokens 512] [--decode-tokens 128]
      [--rounds 3] [--neighbours 0 1] [--llama-bench PATH --gguf FILE]

Prints one markdown row per configuration (medians over the rounds) and the
contended figures as a fraction of the quiet 1-thread figure of the same run.
"""
import argparse
import json
import statistics
import subprocess


def gpt_bench(args, threads, neighbours):
    command = [args.build + "/gpt-bench", "--model", args.model, "--threads", str(threads),
               "--prompt-tokens", str(args.prompt_tokens), "--decode-tokens", str(args.decode_tokens),
               "--repetitions", "2", "--busy-neighbours", str(neighbours), "--json"]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return result["prefill_tokens_per_s"], result["decode_tokens_per_s"], result["weight_type"]


def llama_bench(args, threads, neighbours):
    busy = [subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"]) for _ in range(neighbours)]
    try:
        command = [args.llama_bench, "-m", args.gguf, "-t", str(threads), "-p", str(args.prompt_tokens),
                   "-n", str(args.decode_tokens), "-r", "2", "-o", "json"]
        rows = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    prefill = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0)
    decode = next(r["avg_ts"] for r in rows if r["n_gen"] > 0)
    return prefill, decode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--build", default=".build/release")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--neighbours", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--llama-bench")
    parser.add_argument("--gguf")
    args = parser.parse_args()

    configurations = [(engine, threads, neighbours) for neighbours in args.neighbours for threads in (1, 2)
                      for engine in (["gpt-swift"] + (["llama.cpp"] if args.llama_bench else []))]
    results = {c: [] for c in configurations}
    weight_type = "?"
    for round_index in range(args.rounds):
        for configuration in configurations:
            engine, threads, neighbours = configuration
            if engine == "gpt-swift":
                prefill, decode, weight_type = gpt_bench(args, threads, neighbours)
            else:
                prefill, decode = llama_bench(args, threads, neighbours)
            results[configuration].append((prefill, decode))
            print(f"round {round_index + 1}: {engine} {threads} thread(s), {neighbours} busy: "
                  f"prefill {prefill:.1f}, decode {decode:.1f} tokens/s", flush=True)

    def median(configuration, index):
        return statistics.median(r[index] for r in results[configuration])

    print(f"\n{args.model} ({weight_type}), prompt {args.prompt_tokens}, decode {args.decode_tokens}, "
          f"medians of {args.rounds} rounds\n")
    print("| engine | threads | busy neighbours | prefill tokens/s | decode tokens/s | prefill / quiet 1-thread | decode / quiet 1-thread |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for configuration in configurations:
        engine, threads, neighbours = configuration
        quiet = (engine, 1, 0) if (engine, 1, 0) in results else configuration
        print(f"| {engine} | {threads} | {neighbours} | {median(configuration, 0):,.0f} | {median(configuration, 1):,.1f} | "
              f"{median(configuration, 0) / median(quiet, 0):.2f} | {median(configuration, 1) / median(quiet, 1):.2f} |")


if __name__ == "__main__":
    main()
