#!/bin/sh
# A QEMU that is killed (kill -9) as soon as it is started, before the agent has run anything:
# EPTFUZZ_QEMU points here in test/e2e/QemuTarget.spec.ts to check that a dead QEMU is a harness
# fault, never a lost batch. (No delay before the kill: on a loaded machine a delay can let the
# emulator finish the whole batch first, as it did for Bochs.)
qemu-system-x86_64 "$@" &
pid=$!
kill -9 "$pid"
wait "$pid" 2>/dev/null
exit 137
