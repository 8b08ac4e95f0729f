#!/bin/sh
# A Bochs that is killed mid-run (kill -9 after 0.05 s, before the agent has run anything): EPTFUZZ_BOCHS points here in
# test/e2e/BochsTarget.spec.ts to check that a dead Bochs is a harness fault, never a lost batch.
bochs "$@" &
pid=$!
sleep 0.05
kill -9 "$pid"
wait "$pid" 2>/dev/null
exit 137
