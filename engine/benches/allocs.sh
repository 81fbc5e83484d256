#!/bin/sh
# Allocations per event of every benchmark of `nfa.rs`, counted by valgrind's DHAT.
#
# Each configuration runs twice in CEPHEUS_BENCH_ONCE mode: building the stream only
# (`/setup`), then building and feeding it. The difference in allocated blocks (and bytes),
# divided by the number of events, is what feeding one event allocates, flush included.
#
# usage: engine/benches/allocs.sh [events]   (default 200000, as the benchmark; run from the
# repository root; takes a few seconds per 10k events and configuration under valgrind)
set -eu

events=${1:-200000}
# The benchmark's executable (the `cepheus` binary is listed too).
bin=$(cargo bench -p cepheus-engine --bench nfa --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\/deps\/nfa-[^"]*\)".*/\1/p' | tail -n 1)
[ -x "$bin" ] || { echo "no benchmark binary; does 'cargo bench --no-run' build?" >&2; exit 1; }

# "bytes blocks" allocated in total by one run.
total() {
    CEPHEUS_BENCH_EVENTS=$events CEPHEUS_BENCH_ONCE=$1 \
        valgrind --tool=dhat --dhat-out-file=/dev/null "$bin" 2>&1 |
        sed -n 's/.*Total: *\([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 \2/p' | tr -d ,
}

printf '%-18s %12s %12s\n' benchmark allocs/event bytes/event
for w in w1 w2 w3 w4 w5; do
    for level in nfa pipeline; do
        for keys in 1k 100k; do
            id=$w/$level/$keys
            echo "$(total "$id") $(total "$id/setup")" |
                awk -v id="$id" -v n="$events" \
                    '{ printf "%-18s %12.2f %12.0f\n", id, ($2 - $4) / n, ($1 - $3) / n }'
        done
    done
done
