#!/bin/sh
# A QEMU that is killed mid-run (kill -9 after 0.05 s, before the agent has run anything): EPTFUZZ_QEMU points here in
# test/e2e/QemuTarget.spec.ts to check that a dead QEMU is a harness fault, never a lost batch.
qemu-system-x86_64 "$@" &
pid=$!
sleep 0.05
kill -9 "$pid"
wait "$pid" 2>/dev/null
exit 137
