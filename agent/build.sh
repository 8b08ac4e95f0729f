#!/bin/sh
# build.sh [OUT_DIR]: builds OUT_DIR/agent.img (default agent/build; exactly 512 sectors =
# 256 KiB) reproducibly from the sources in this directory with the system gcc / GNU as / ld /
# objcopy. `build.sh --if-gcc` does nothing (with a note) on a machine without gcc: the runner then
# uses the committed agent/prebuilt/agent.img, which a test checks against these sources.
set -eu
cd "$(dirname "$0")"
if [ "${1:-}" = "--if-gcc" ]; then
  if ! command -v gcc >/dev/null 2>&1 || ! command -v ld >/dev/null 2>&1 || ! command -v objcopy >/dev/null 2>&1; then
    echo "agent: gcc/binutils not found; using the committed agent/prebuilt/agent.img" >&2
    exit 0
  fi
  shift
fi
OUT=${1:-build}
mkdir -p "$OUT"
CFLAGS="-std=gnu11 -O2 -Wall -Wextra -ffreestanding -fno-pic -fno-pie -nostdlib -mno-red-zone \
 -mno-sse -mno-mmx -mgeneral-regs-only -fno-stack-protector -fcf-protection=none \
 -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-tree-loop-distribute-patterns \
 -fno-builtin -fno-delete-null-pointer-checks -mcmodel=small -fno-common"
gcc $CFLAGS -c boot.S -o "$OUT/boot.o"
gcc $CFLAGS -c entry.S -o "$OUT/entry.o"
gcc $CFLAGS -c direct.S -o "$OUT/direct.o"
gcc $CFLAGS -c agent.c -o "$OUT/agent.o"
gcc $CFLAGS -c io.c -o "$OUT/io.o"
ld -nostdlib -static --build-id=none --no-warn-rwx-segments -z noexecstack -z max-page-size=4096 -T agent.ld \
   -o "$OUT/agent.elf" "$OUT/boot.o" "$OUT/entry.o" "$OUT/direct.o" "$OUT/agent.o" "$OUT/io.o"
objcopy -O binary "$OUT/agent.elf" "$OUT/agent.bin"
SIZE=$(stat -c %s "$OUT/agent.bin")
MAX=$((512 * 512))
if [ "$SIZE" -gt "$MAX" ]; then echo "agent image too large: $SIZE > $MAX" >&2; exit 1; fi
BSS_END=$(nm "$OUT/agent.elf" | awk '$3 == "__bss_end" { print $1 }')
if [ $((0x$BSS_END)) -gt $((0x0f080000)) ]; then echo "agent bss overlaps the stack" >&2; exit 1; fi
cp "$OUT/agent.bin" "$OUT/agent.img"
truncate -s "$MAX" "$OUT/agent.img"
echo "agent.img: $SIZE bytes used of $MAX"
