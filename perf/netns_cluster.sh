#!/usr/bin/env bash
# netns_cluster.sh: an emulated cluster on one machine: N network namespaces ("hosts"), each
# with one veth link to a bridge, optionally rate-limited with tc in both directions. Runs a
# command once per host with CCLZ_RANK, CCLZ_NRANKS, CCLZ_ROOT and CCLZ_IFNAME set (rank i on
# host i), with UCX restricted to TCP so traffic really crosses the links; then tears it all
# down. Needs root (ip netns, tc). Host i has address 10.199.0.(i+1) on eth0.
# -p K runs K ranks per host (ranks i*K .. i*K+K-1 on host i), which then reach each other
# through UCX's shared memory and the other hosts through TCP.
#
#   perf/netns_cluster.sh -n 4 -r 1gbit -- ./perf/cclz_perf -b 100M -e 100M
#   perf/netns_cluster.sh -n 2 -p 2 -r 1gbit -- ./perf/cclz_perf -b 100M -e 100M
#   perf/netns_cluster.sh -n 4 --mpi -- ./perf/mpi_allreduce_perf -b 100M -e 100M
#
# --mpi runs the command once under mpirun instead, its ranks placed one per host through
# an rsh agent that enters the host's namespace.
set -u
n=4 per=1 rate="" mpi=0
while [ $# -gt 0 ]; do
    case $1 in
        -n) n=$2; shift 2 ;;
        -p) per=$2; shift 2 ;;
        -r) rate=$2; shift 2 ;;
        --mpi) mpi=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-n N] [-p K] [-r RATE] [--mpi] -- command [args...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
tag=cz$$
br=${tag}b

cleanup() {
    for i in $(seq 0 $((n - 1))); do ip netns del "${tag}h$i" 2>/dev/null; done
    ip netns del "$br" 2>/dev/null
    rm -f "/tmp/${tag}_rsh" "/tmp/${tag}_hosts"
}
trap cleanup EXIT

ip netns add "$br" || { echo "netns_cluster: cannot create network namespaces (need root)" >&2; exit 77; }
ip -n "$br" link add br0 type bridge && ip -n "$br" link set br0 up || exit 77
for i in $(seq 0 $((n - 1))); do
    h=${tag}h$i
    ip netns add "$h" || exit 77
    ip link add "${tag}v$i" type veth peer name "${tag}p$i" || exit 77
    ip link set "${tag}v$i" netns "$h"
    ip link set "${tag}p$i" netns "$br"
    ip -n "$h" link set "${tag}v$i" name eth0
    ip -n "$h" addr add "10.199.0.$((i + 1))/24" dev eth0
    ip -n "$h" link set eth0 up
    ip -n "$h" link set lo up
    ip -n "$br" link set "${tag}p$i" master br0
    ip -n "$br" link set "${tag}p$i" up
    if [ -n "$rate" ]; then
        # Egress of the host, and egress of the bridge port towards it: a full-duplex link.
        burst=$(case $rate in *gbit) echo $(( ${rate%gbit} * 1 ))mb ;; *) echo 256kb ;; esac)
        tc -n "$h" qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms || exit 77
        tc -n "$br" qdisc add dev "${tag}p$i" root tbf rate "$rate" burst "$burst" latency 100ms || exit 77
    fi
done

secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
# Shared memory only between the ranks of one host: UCX tells hosts apart by their network
# namespace's addresses, so no shared-memory lane crosses a namespace.
if [ "$per" -gt 1 ]; then export UCX_TLS=tcp,sm,self; else export UCX_TLS=tcp,self; fi
export UCX_NET_DEVICES=eth0 CCLZ_IFNAME=eth0

if [ "$mpi" = 1 ]; then
    # mpirun reaches "host" 10.199.0.X by entering namespace X-1 instead of ssh.
    cat >"/tmp/${tag}_rsh" <<RSH
#!/usr/bin/env bash
host=\$1; shift
while [ "\${host#-}" != "\$host" ]; do host=\$1; shift; done
idx=\$(( \${host##*.} - 1 ))
exec ip netns exec ${tag}h\$idx sh -c "\$*"
RSH
    chmod +x "/tmp/${tag}_rsh"
    hosts=$(for i in $(seq 1 "$n"); do printf '10.199.0.%d,' "$i"; done)
    ip netns exec "${tag}h0" mpirun --allow-run-as-root -np "$n" -H "${hosts%,}" \
        --mca plm_rsh_agent "/tmp/${tag}_rsh" --mca btl_tcp_if_include eth0 \
        --mca oob_tcp_if_include eth0 --mca pml ob1 --mca btl tcp,self \
        -x LD_LIBRARY_PATH -x PATH "$@"
    exit $?
fi

pids=()
for i in $(seq 0 $((n - 1))); do
    for j in $(seq 0 $((per - 1))); do
        ip netns exec "${tag}h$i" env CCLZ_RANK="$((i * per + j))" CCLZ_NRANKS="$((n * per))" \
            CCLZ_ROOT=10.199.0.1:29517 CCLZ_SECRET="$secret" "$@" &
        pids+=($!)
    done
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
