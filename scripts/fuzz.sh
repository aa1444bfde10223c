#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of the model-file parsers (GGUF,
# safetensors header, config.json and model.safetensors.index.json, llm.c
# header, tokenizer.json) with AddressSanitizer. Each target is compiled from
# the parser's own sources (no BLAS, no package build), seeded with small
# valid files.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 300 s, every target)
#
# Findings land in .fuzz/TARGET/crash-* (or oom-*, or timeout-* for a unit slower
# than 60 s, generous because nice 19 on a busy machine can starve a run); keep
# each as a regression test in Tests/ModelFilesTests/Fixtures/fuzz/ named
# TARGET-what.EXT. Runs at nice 19 so the machine stays usable.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(gguf safetensors config llmc tokenizer)
out=.fuzz
build=$out/build
mkdir -p "$build"
flags=(-sanitize=fuzzer,address -parse-as-library -package-name gpt_swift -O -g)
quiet() { "$@" 2> >(grep -v "Cannot export local symbol" >&2); }  # gold's noise about ASan's local symbols

# The JSON and ModelFiles modules as instrumented static libraries.
quiet swiftc "${flags[@]}" -module-name JSON -emit-module -emit-module-path "$build/JSON.swiftmodule" \
  -emit-library -static -o "$build/libJSON.a" Sources/JSON/*.swift
quiet swiftc "${flags[@]}" -module-name ModelFiles -I "$build" -emit-module -emit-module-path "$build/ModelFiles.swiftmodule" \
  -emit-library -static -o "$build/libModelFiles.a" Sources/ModelFiles/*.swift

seeds() {  # small valid files of each kind
  local dir=$out/$1/seeds
  mkdir -p "$dir"
  case $1 in
    gguf) python3 scripts/make_format_fixtures.py --seeds "$out/seedfiles" >/dev/null; cp "$out"/seedfiles/*.gguf "$dir" ;;
    safetensors) python3 scripts/make_format_fixtures.py --seeds "$out/seedfiles" >/dev/null; cp "$out"/seedfiles/*.safetensors "$dir" ;;
    config) python3 scripts/make_format_fixtures.py --seeds "$out/seedfiles" >/dev/null; cp "$out"/seedfiles/*config.json "$out"/seedfiles/*index.json "$dir" ;;
    llmc) cp Tests/GPTTests/Fixtures/model/one_head.bin "$dir" ;;
    tokenizer) cp Tests/GPTTests/Fixtures/tokenizer/gpt2ish*.json "$dir" ;;
  esac
}

for target in "${targets[@]}"; do
  case $target in
    gguf) sources=(Fuzz/FuzzGGUF.swift Sources/ModelFiles/*.swift); name=ModelFilesFuzz ;;
    safetensors) sources=(Fuzz/FuzzSafetensors.swift Sources/ModelFiles/*.swift); name=ModelFilesFuzz ;;
    config) sources=(Fuzz/FuzzConfig.swift Sources/ModelFiles/*.swift); name=ModelFilesFuzz ;;
    llmc) sources=(Fuzz/FuzzLlmc.swift Sources/ModelFiles/*.swift); name=ModelFilesFuzz ;;
    tokenizer) sources=(Fuzz/FuzzTokenizer.swift Sources/GPT/Tokenizer/*.swift); name=TokenizerFuzz ;;
    *) echo "unknown target $target (gguf, safetensors, config, llmc, tokenizer)" >&2; exit 2 ;;
  esac
  echo "== $target: building"
  # The target's parser sources join the harness in one module, so internal entry points are reachable.
  quiet swiftc "${flags[@]}" -module-name "$name" -I "$build" -L "$build" -lJSON -lModelFiles -o "$build/fuzz-$target" "${sources[@]}"
  seeds "$target"
  mkdir -p "$out/$target/corpus"
  echo "== $target: fuzzing for $seconds s"
  (cd "$out/$target" && nice -n 19 "../build/fuzz-$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=60 \
    -max_len=65536 -print_final_stats=1 corpus seeds 2>&1 | tail -n 12) || echo "== $target: FINDING (see $out/$target/crash-* or oom-*/timeout-*)"
done
