#!/usr/bin/env bash
# launchers.sh: ccl_comm_init_from_env under cclz_run, mpirun, and the variables torchrun and
# srun set (simulated: neither is installed here); cclz_run's handling of a failing rank.
set -u
build=$1
env_test=$build/tests/test_env
run=$build/tools/cclz_run

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
result() { if [ "$1" -eq 0 ]; then echo "PASS $2"; else echo "FAIL $2 (status $1)"; fi; }

timeout 120 "$run" -np 3 "$env_test"
result $? "cclz_run -np 3: init_from_env, allreduce, allgather"

# torchrun: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (cclz listens on MASTER_PORT+1).
port=$(free_port)
pids=()
for r in 0 1 2 3; do
    RANK=$r WORLD_SIZE=4 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        timeout 120 "$env_test" & pids+=($!)
done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=$?; done
result $rc "torchrun variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), 4 ranks"

# srun: SLURM_PROCID, SLURM_NTASKS, the root host from SLURM_STEP_NODELIST.
pids=()
for r in 0 1 2; do
    SLURM_PROCID=$r SLURM_NTASKS=3 SLURM_JOB_ID=$$ SLURM_STEP_ID=0 SLURM_STEP_NODELIST=localhost \
        timeout 120 "$env_test" & pids+=($!)
done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=$?; done
result $rc "srun variables (SLURM_PROCID, SLURM_NTASKS, SLURM_STEP_NODELIST), 3 ranks"

if command -v mpirun >/dev/null 2>&1; then
    timeout 120 mpirun --allow-run-as-root --oversubscribe -np 3 \
        -x LD_LIBRARY_PATH -x UCX_LOG_LEVEL "$env_test"
    result $? "mpirun -np 3 (Open MPI variables, no MPI calls)"
else
    echo "SKIP mpirun: not installed (apt-get install openmpi-bin)"
fi

# A CCLZ_ALGO item that names no algorithm: the job runs (the cost model chooses) and says
# what it ignored.
msg=$(CCLZ_ALGO=nonsense,allreduce:ring timeout 120 "$run" -np 2 "$env_test" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [[ $msg == *"ignoring CCLZ_ALGO item 'nonsense'"* ]] &&
    [[ $msg != *"allreduce:ring'"* ]]
result $? "CCLZ_ALGO=nonsense,allreduce:ring: runs, warns about 'nonsense' alone"

# A rendezvous that no rank reaches in time says so (no '-1 ranks').
msg=$(CCLZ_TIMEOUT=1e-6 timeout 60 "$run" -np 2 "$env_test" 2>&1)
rc=$?
[ "$rc" -ne 0 ] && [[ $msg != *"of -1 ranks"* ]]
result $? "CCLZ_TIMEOUT=1e-6: init fails, and its message counts no ranks that never came"

# cclz_info --topology: every rank's host, local rank and placement, and the hierarchy, here
# with two emulated hosts (CCLZ_HOST_ID by rank: ranks 0, 1 on one, rank 2 on the other).
info=$build/tools/cclz_info
out=$(timeout 120 "$run" -np 3 sh -c 'CCLZ_HOST_ID=h$((CCLZ_RANK / 2)) exec "$0" --topology' \
      "$info" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [[ $out == *"3 ranks on 2 hosts"* ]] &&
    [[ $out == *"rank 1: host 0"*"local rank 1 of 2; cores "* ]] &&
    [[ $out == *"rank 2: host 1"*"local rank 0 of 1"* ]] &&
    [[ $out == *"hierarchical allreduce: 2 shards"* ]]
result $? "cclz_info --topology: hosts, local ranks, cores and the hierarchy of 2+1 ranks"

# CCLZ_NET_DEVICES: local rank i takes entry i modulo their number, for UCX.
out=$(UCX_TLS=sm,self CCLZ_LOG=info CCLZ_NET_DEVICES=devA,devB timeout 120 "$run" -np 3 \
      "$env_test" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && [[ $out == *"local rank 0: network device devA"* ]] &&
    [[ $out == *"local rank 1: network device devB"* ]] &&
    [[ $out == *"local rank 2: network device devA"* ]]
result $? "CCLZ_NET_DEVICES=devA,devB: local ranks 0, 1, 2 take devA, devB, devA"

# A failing rank ends the job with its status; the others are stopped, not waited for.
start=$SECONDS
"$run" -np 3 sh -c 'if [ "$CCLZ_RANK" = 1 ]; then exit 3; fi; sleep 60'
rc=$?
[ "$rc" -eq 3 ] && [ $((SECONDS - start)) -lt 30 ]
result $? "cclz_run: a failing rank's status is the job's and the other ranks are stopped"
exit 0
