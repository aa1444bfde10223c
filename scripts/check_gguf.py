#!/usr/bin/env python3
"""Checks a GGUF file written by gpt-convert against the `gguf` package.

  check_gguf.py CONVERTED.gguf SOURCE_F32.gguf

Reads both with gguf.GGUFReader. For every tensor of CONVERTED, quantizes
SOURCE's f32 tensor of the same name to CONVERTED's type with the package's
own quantizer (gguf.quants.quantize) and compares the bytes. Prints JSON:
{"tensors": N, "mismatched_tensors": M, "types": {...}, "first_mismatch": ...}.
"""
import json
import sys

import gguf
import numpy as np


def main():
    converted, source = gguf.GGUFReader(sys.argv[1]), gguf.GGUFReader(sys.argv[2])
    originals = {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in source.tensors}
    mismatched, first, types = 0, None, {}
    for tensor in converted.tensors:
        types[tensor.tensor_type.name] = types.get(tensor.tensor_type.name, 0) + 1
        original = np.ascontiguousarray(originals[tensor.name], dtype=np.float32)
        expected = gguf.quants.quantize(original, tensor.tensor_type)
        actual = np.asarray(tensor.data)
        if expected.tobytes() != actual.tobytes():
            mismatched += 1
            if first is None:
                first = tensor.name
    print(json.dumps({"tensors": len(converted.tensors), "mismatched_tensors": mismatched, "types": types,
                      "first_mismatch": first}))


if __name__ == "__main__":
    main()
