#!/usr/bin/env bash
# mpi_shim.sh BUILD: the MPI shim (libcclz_mpi.so) under Open MPI's mpirun, 4 local ranks:
# tests/test_mpi_shim without the shim (the reference: everything exact), then with
# LD_PRELOAD=libcclz_mpi.so (int:bits=8, a table of 2 buffers, the stats line checked), and
# with CCLZ_MPI_DOUBLE=1; MPI_Finalize with pending state; a killed rank; and
# this tree's plain-MPI benchmark (perf/mpi_allreduce_perf, int32: checked results)
# unchanged under the shim.
set -u
build=$1
shim=$build/.libs/libcclz_mpi.so
if [ ! -x "$build/tests/test_mpi_shim" ] || [ ! -f "$shim" ]; then
    echo "SKIP mpi_shim: built without MPI (configure found no mpicc)"
    exit 0
fi
mpirun=(mpirun --allow-run-as-root --oversubscribe -np 4 --mca btl self,vader,tcp
        -x CCLZ_TIMEOUT=30 -x UCX_LOG_LEVEL=error)
rc=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "# without the shim"
"${mpirun[@]}" "$build/tests/test_mpi_shim" || rc=1

echo "# under the shim"
"${mpirun[@]}" -x LD_PRELOAD="$shim" -x CCLZ_COMPRESS=int:bits=8 -x CCLZ_MPI_TABLE=2 \
    -x CCLZ_MPI_STATS=1 "$build/tests/test_mpi_shim" compressed 2>"$out" || rc=1
echo "# under the shim, doubles too"
"${mpirun[@]}" -x LD_PRELOAD="$shim" -x CCLZ_MPI_DOUBLE=1 "$build/tests/test_mpi_shim" \
    compressed doubles 2>/dev/null || rc=1
line=$(grep 'cclz_mpi: rank 0' "$out")
echo "# $line"
if echo "$line" | grep -Eq 'calls: [1-9][0-9]* compressed'; then
    echo "PASS mpi_shim: CCLZ_MPI_STATS=1 reports the compressed calls at MPI_Finalize"
else
    echo "FAIL mpi_shim: no stats line with compressed calls (stderr: $(head -c 400 "$out"))"
    rc=1
fi

# State left at MPI_Finalize: a request never waited on, a communicator never freed.
if timeout 60 "${mpirun[@]}" -x LD_PRELOAD="$shim" "$build/tests/test_mpi_shim" pending >"$out" 2>&1; then
    echo "PASS mpi_shim: MPI_Finalize with an MPI_Iallreduce never waited on and a communicator never freed: a clean exit"
else
    echo "FAIL mpi_shim: MPI_Finalize with pending state: $(tail -3 "$out")"
    rc=1
fi

# A rank killed between compressed sums: the job ends (mpirun sees the death and aborts the
# others, or cclz's error reaches MPI_ERRORS_ARE_FATAL), well before the 60 s limit.
start=$SECONDS
timeout 60 "${mpirun[@]}" -x LD_PRELOAD="$shim" "$build/tests/test_mpi_shim" kill >"$out" 2>&1
krc=$?
if [ "$krc" -ne 0 ] && [ "$krc" -ne 124 ]; then
    echo "PASS mpi_shim: a rank killed mid-run ends the job in $((SECONDS - start)) s (exit $krc), no hang"
else
    echo "FAIL mpi_shim: a rank killed mid-run: exit $krc after $((SECONDS - start)) s: $(tail -3 "$out")"
    rc=1
fi

if [ -x "$build/perf/mpi_allreduce_perf" ]; then
    if "${mpirun[@]}" -x LD_PRELOAD="$shim" "$build/perf/mpi_allreduce_perf" -d int32 \
        -b 1K -e 4M -f 4 -n 3 -w 1 >"$out" 2>&1 && ! awk '$1 ~ /^[0-9]/ && $NF != 0 {bad=1} END {exit !bad}' "$out"; then
        echo "PASS mpi_shim: an unmodified MPI program (mpi_allreduce_perf, int32, checked) under the shim"
    else
        echo "FAIL mpi_shim: mpi_allreduce_perf under the shim: $(tail -5 "$out")"
        rc=1
    fi
fi
exit $rc
