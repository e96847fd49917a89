#!/usr/bin/env bash
# netns.sh: ranks on emulated hosts (network namespaces joined by veth pairs and a
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

# Hosts of 2 ranks (shared memory inside a namespace, TCP between): the hierarchy forms with
# its links measured, and the hierarchical allreduce's exact results and int8's run across
# the links; then a rank killed inside a host and one on the other host fail every rank.
out=$(timeout 300 env CCLZ_LOG=info CCLZ_ALGO=allreduce:hier "$cluster" -n 2 -p 2 -r 1gbit -- \
      "$build/perf/cclz_perf" -b 8 -e 8M -f 64 -n 2 -w 1 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [[ $out == *"hierarchy of 2 hosts (up to 2 ranks each)"* ]] &&
    ! grep -Eq '^ +[0-9]+ .* [1-9][0-9]*$' <<<"$out"
result $? "2 hosts x 2 ranks: the hierarchy forms; hierarchical allreduce 8 B to 8 MB exact"
timeout 300 "$cluster" -n 2 -p 2 -r 1gbit -- "$build/perf/cclz_perf" -b 8M -e 8M -n 2 -w 1 \
    -z int:bits=8,algo=hier >/dev/null 2>&1
result $? "2 hosts x 2 ranks: int8 hierarchical allreduce runs"
for victim in 1 2; do
    timeout 120 env CCLZ_TIMEOUT=5 CCLZ_ALGO=allreduce:hier V=$victim "$cluster" -n 2 -p 2 -- sh -c \
        'if [ "$CCLZ_RANK" = "$V" ]; then timeout -s KILL 1 "$0" -b 64M -e 64M -n 1000 -w 0; exit 0; fi
         "$0" -b 64M -e 64M -n 1000 -w 0 -c 0; test $? -ne 0' "$build/perf/cclz_perf"
    result $? "2 hosts x 2 ranks: rank $victim killed mid-allreduce (hierarchical) fails every other rank"
done
