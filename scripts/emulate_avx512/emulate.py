"""Runs a flat x86-64 image (built by scripts/emulate_avx512.sh) on BochsCPU,
an emulated CPU with AVX-512, in 64-bit mode at ring 3 with the AVX-512
state enabled, and reports what the image's `result` words say.

    python3 emulate.py IMAGE.bin IMAGE.elf
"""
import os
import struct
import subprocess
import sys

import bochscpu
import bochscpu.cpu
import bochscpu.memory

PAGE = bochscpu.memory.page_size()
IMAGE = 0x1000_0000  # link.ld's address
STACK = 0x2000_0000
STACK_PAGES = 16
PML4 = 0x10_0000
FIRST_FRAME = 0x100_0000


def symbols(elf):
    table = {}
    for line in subprocess.check_output(["nm", elf], text=True).splitlines():
        fields = line.split()
        if len(fields) == 3:
            table[fields[2]] = int(fields[0], 16)
    return table


def segment(selector, attributes):
    s = bochscpu.Segment()
    s.present, s.selector, s.base, s.limit, s.attr = True, selector, 0, 0xFFFF_FFFF, attributes
    return s


def main(image_path, elf_path):
    image = open(image_path, "rb").read()
    where = symbols(elf_path)
    pages = list(range(IMAGE, (where["_end"] + PAGE - 1) // PAGE * PAGE, PAGE))
    pages += [STACK + i * PAGE for i in range(STACK_PAGES)]

    session = bochscpu.Session()

    def missing_page(address):
        raise RuntimeError(f"the image touched unmapped memory at {address:#x}")

    session.missing_page_handler = missing_page
    tables = bochscpu.memory.PageMapLevel4Table()
    for i, virtual in enumerate(pages):
        frame = FIRST_FRAME + i * PAGE
        bochscpu.memory.page_insert(frame, bochscpu.memory.allocate_host_page())
        tables.insert(virtual, frame, 1)  # read, write and execute
    for host, frame in tables.commit(PML4):
        bochscpu.memory.page_insert(frame, host)
    for offset in range(0, len(image), PAGE):
        assert bochscpu.memory.virt_write(PML4, IMAGE + offset, list(image[offset:offset + PAGE]))

    state = bochscpu.State()
    bochscpu.cpu.set_long_mode(state)
    state.cr3 = PML4
    state.cr0 = (state.cr0 | 0x2) & ~0x4  # MP set, EM clear: the FPU and SSE are real
    state.cr4 |= (1 << 9) | (1 << 10) | (1 << 18)  # OSFXSR, OSXMMEXCPT, OSXSAVE
    state.xcr0 = 0xE7  # x87, SSE, AVX, opmasks, the upper halves of zmm0-15, zmm16-31
    state.mxcsr = 0x1F80
    state.rsp = STACK + (STACK_PAGES - 1) * PAGE - 8  # as just after a call
    state.rip = where["entry"]
    state.cs = segment(0x33, 0x22FB)  # 64-bit code, ring 3
    data = segment(0x2B, 0xCF3)
    state.ds = state.ss = state.es = state.fs = state.gs = data
    session.cpu.state = state

    faults = []

    def on_exception(s, cpu, vector, code):
        faults.append((vector, code, s.cpu.rip))
        s.stop()

    hook = bochscpu.Hook()
    hook.exception = on_exception
    session.run([hook])

    bad, compared, done = struct.unpack("<3Q", bytes(bochscpu.memory.virt_read(PML4, where["result"], 24)))
    if done != 0x600D:
        vector, code, rip = faults[0] if faults else (None, None, session.cpu.state.rip)
        print(f"the image stopped before its end: exception {vector} (code {code}) at {rip:#x}")
        return 1
    print(f"{compared} products on the AVX-512 and AVX2 paths against the portable one: "
          f"{bad} elements with other bits")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    status = main(sys.argv[1], sys.argv[2])
    sys.stdout.flush()
    # Skip the interpreter's teardown: the bindings' objects complain at exit.
    os._exit(status)
