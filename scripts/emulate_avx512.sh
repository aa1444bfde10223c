#!/usr/bin/env bash
# Runs the gemm's AVX-512 path on a CPU that has no AVX-512, under BochsCPU
# (an emulated x86-64 CPU with AVX-512, from PyPI's bochscpu-python), and
# checks its output bit for bit against the portable path, as the Swift
# tests do on a CPU that has it (GemmTests). The kernels and a freestanding
# driver (emulate_avx512/driver.c) are linked into one flat image that runs
# with no operating system.
#
#   scripts/emulate_avx512.sh        (about a minute; needs clang, ld, objcopy, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
here=scripts/emulate_avx512
work=${TMPDIR:-/tmp}/gpt-emulate-avx512
mkdir -p "$work"

if [[ ! -x $work/venv/bin/python ]]; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet bochscpu-python==0.4.0
fi
# The wheel is built against glibc 2.38, which renamed strtoull and sscanf
# for C23; older glibc (Debian 12 has 2.36) gets the two names forwarded.
preload=
if ! "$work/venv/bin/python" -c 'import bochscpu' 2>/dev/null; then
    cat > "$work/isoc23.c" <<'C'
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
unsigned long long __isoc23_strtoull(const char *s, char **end, int base) { return strtoull(s, end, base); }
int __isoc23_sscanf(const char *s, const char *format, ...) {
    va_list list;
    va_start(list, format);
    int n = vsscanf(s, format, list);
    va_end(list);
    return n;
}
C
    clang -shared -fPIC -O2 -o "$work/libisoc23.so" "$work/isoc23.c"
    preload=$work/libisoc23.so
fi

flags=(-O3 -ffreestanding -fno-stack-protector -fno-pic -mno-red-zone -fcf-protection=none -ISources/CKernels/include)
objects=()
for source in Sources/CKernels/gemm.c Sources/CKernels/kernels.c $here/driver.c; do
    object=$work/$(basename "$source" .c).o
    clang "${flags[@]}" -c "$source" -o "$object"
    objects+=("$object")
done
ld -static -nostdlib --no-warn-rwx-segments -T $here/link.ld -o "$work/image.elf" "${objects[@]}"
objcopy -O binary "$work/image.elf" "$work/image.bin"
LD_PRELOAD=$preload "$work/venv/bin/python" $here/emulate.py "$work/image.bin" "$work/image.elf"
