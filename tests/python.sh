#!/usr/bin/env bash
# python.sh SRC BUILD: the cclz Python package (python/cclz) from the source tree on this
# build's libcclz.so: tests/test_python.py on 2 and 3 ranks under cclz_run, with Debian's
# /usr/bin/python3 (python3-numpy, python3-torch).
set -u
src=$1 build=$2
py=${PYTHON3:-/usr/bin/python3}
if ! "$py" -c 'import numpy, torch' 2>/dev/null; then
    echo "SKIP python: $py lacks numpy or torch (apt-get install python3-numpy python3-torch)"
    exit 0
fi
export PYTHONPATH=$src/python CCLZ_LIBRARY=$build/.libs/libcclz.so CCLZ_TIMEOUT=20
rc=0
for np in 2 3; do
    timeout 600 "$build/tools/cclz_run" -np "$np" "$py" "$src/tests/test_python.py" || rc=1
done
exit $rc
