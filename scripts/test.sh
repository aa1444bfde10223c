#!/usr/bin/env bash
# Every test: the Swift suites (engine, tokenizer, HTTP layer, server over
# loopback, CLI), then against real gpt-server processes: the official `openai`
# client, log-probabilities against the numpy reference, tokens against
# `tokenizers`, the documents that repeat the request fields against the
# server's table of them, schemathesis over openapi.yaml, a headless Chromium, and three
# replicas restarted one by one behind nginx; the Kubernetes manifests and the
# Dockerfile are checked statically. Needs `scripts/setup.sh --test` once.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0
failed=0
run() {
  echo "== $*"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "== FAILED: $*"; fi
}
run swift test
run python3 scripts/openai_test.py --build .build/debug
run python3 scripts/logprobs_test.py --build .build/debug
run python3 scripts/tokens_test.py --build .build/debug
run python3 scripts/fields_test.py --build .build/debug
run python3 scripts/schema_test.py --build .build/debug
run python3 scripts/web_test.py --build .build/debug
run kubernetes-validate --strict --kubernetes-version 1.34.0 --quiet deploy/kubernetes/*.yaml
run hadolint --failure-threshold error Dockerfile
run python3 scripts/deploy_test.py --build .build/debug
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
