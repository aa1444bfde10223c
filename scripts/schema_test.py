#!/usr/bin/env python3
"""schemathesis over openapi.yaml against a real gpt-server: generated requests
(valid and invalid) to every operation; fails on any 5xx or any response that
does not match the spec (status, content type, schema). Streamed bodies are
read as lists of events by scripts/schema_hooks.py and checked item by item.

The server serves a small random model with small limits (max_num_tokens 4)
so that a few hundred cases run in minutes; bodies that ask for more than the
limits get 400, which the spec allows.

  python3 scripts/schema_test.py [--build .build/debug] [--examples 40]
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server import TestServer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/debug")
    parser.add_argument("--examples", type=int, default=25, help="most cases per operation and phase")
    args = parser.parse_args()
    with TestServer(args.build, context=16, settings=["max_num_tokens=4", "defaults.num_tokens=4", "defaults.max_seq_len=16", "max_choices=2"],
                    name="shakespeare") as server:  # the model id of the spec's examples
        run = subprocess.run(
            ["schemathesis", "run", os.path.abspath(os.path.join(ROOT, "openapi.yaml")), "--url", f"http://127.0.0.1:{server.port}",
             "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
             "--max-examples", str(args.examples), "--seed", "1", "--workers", "1", "--request-timeout", "60",
             "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all"],
            env={**os.environ, "SCHEMATHESIS_HOOKS": "schema_hooks",
                 "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))},
            cwd=server.folder)  # its caches (.schemathesis, .hypothesis) go with the server's temp folder
    print(f"schema: {'passed' if run.returncode == 0 else 'FAILED'}")
    sys.exit(run.returncode)


if __name__ == "__main__":
    main()
