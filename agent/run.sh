#!/bin/sh
# run.sh IMAGE [TIMEOUT_SECONDS]: boots a disk image (agent + batch) in Bochs 2.7 headless and
# prints the agent's port-0xE9 result lines (with an export image's report lines) on stdout. This
# Bochs build has no term/nogui display library, so the default is rfb with timeout=0 (no client
# wait); BOCHS_DISPLAY overrides it.
set -eu
IMG=$(readlink -f "$1")
LIMIT=${2:-600}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CYL_BYTES=$((16 * 63 * 512))
SIZE=$(stat -c %s "$IMG")
CYL=$(( (SIZE + CYL_BYTES - 1) / CYL_BYTES ))
if [ $((CYL * CYL_BYTES)) -ne "$SIZE" ]; then
  cp "$IMG" "$TMP/disk.img"
  truncate -s $((CYL * CYL_BYTES)) "$TMP/disk.img"
  IMG="$TMP/disk.img"
fi
cat > "$TMP/bochsrc" <<RC
megs: 256
cpu: model=tigerlake
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/bochs/VGABIOS-lgpl-latest
display_library: ${BOCHS_DISPLAY:-rfb, options="timeout=0"}
speaker: enabled=0
sound: driver=dummy
port_e9_hack: enabled=1
ata0-master: type=disk, path=$IMG, mode=flat, cylinders=$CYL, heads=16, spt=63
boot: disk
log: ${BOCHS_LOG:-/dev/null}
RC
echo c > "$TMP/cmd"
cd "$TMP"
timeout "$LIMIT" bochs -q -f "$TMP/bochsrc" -rc "$TMP/cmd" 2>"$TMP/stderr" </dev/null \
  | tr -d '\r' | grep -a -E '^([HBTSME] |D$|step |PASS|FAIL|agent: )' || true
