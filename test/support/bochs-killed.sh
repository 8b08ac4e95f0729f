#!/bin/sh
# A Bochs that is killed (kill -9) as soon as it is started, before the agent has run anything:
# EPTFUZZ_BOCHS points here in test/e2e/BochsTarget.spec.ts to check that a dead Bochs is a harness
# fault, never a lost batch. (No delay before the kill: on a loaded machine a delay let Bochs
# finish the whole batch first, and the trace passed.)
bochs "$@" &
pid=$!
kill -9 "$pid"
wait "$pid" 2>/dev/null
exit 137
