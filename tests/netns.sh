#!/usr/bin/env bash
# netns.sh: 4 ranks on 4 emulated hosts (network namespaces joined by veth pairs and a
# bridge, UCX over TCP): rendezvous, exact allreduce results across the links, and a rank
# killed mid-run. Skipped, with the reason, where namespaces cannot be made.
set -u
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
cluster=$src/perf/netns_cluster.sh

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP netns: needs root and iproute2 to create network namespaces"
    exit 0
fi
if ! ip netns add cclz-probe-$$ 2>/dev/null; then
    echo "SKIP netns: this machine refuses 'ip netns add'"
    exit 0
fi
ip netns del cclz-probe-$$

result() { if [ "$1" -eq 0 ]; then echo "PASS $2"; else echo "FAIL $2 (status $1)"; fi; }

timeout 120 "$cluster" -n 4 -- "$build/tests/test_env"
result $? "4 hosts: rendezvous over the bridge, allreduce and allgather"

timeout 300 "$cluster" -n 4 -r 1gbit -- "$build/perf/cclz_perf" -b 8 -e 8M -f 32 -n 2 -w 1
result $? "4 hosts at 1 Gbit/s: allreduce 8 B to 8 MB, every element exact (#wrong = 0)"

# Rank 3 dies after its first call: every other rank must fail (peer error or timeout), and
# the cluster script must come back.
timeout 120 env CCLZ_TIMEOUT=5 "$cluster" -n 4 -- sh -c \
    'if [ "$CCLZ_RANK" = 3 ]; then timeout -s KILL 1 "$0" -b 64M -e 64M -n 1000 -w 0; exit 0; fi
     "$0" -b 64M -e 64M -n 1000 -w 0 -c 0; test $? -ne 0' "$build/perf/cclz_perf"
result $? "4 hosts: a rank killed mid-allreduce makes the others return an error"

# The last host loses its link mid-run (it brings its own interface down): every rank's call
# fails, and ccl_comm_destroy must then return on every rank (it used to abort the process
# inside UCX, flushing to a peer it could no longer reach).
timeout 120 env CCLZ_TIMEOUT=5 "$cluster" -n 3 -- sh -c \
    'if [ "$CCLZ_RANK" = 2 ]; then (sleep 2; ip link set eth0 down) & fi; exec "$0"' \
    "$build/tests/test_linkdown"
result $? "3 hosts: a host loses its link mid-allreduce; every rank gets an error, destroy returns"
