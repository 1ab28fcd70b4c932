#!/usr/bin/env bash
# Run the test suite N times in a row with one core kept busy by a second process, stopping at
# the first failure: a test that fails only under load is racing, and a defect.
#
#   tests/under_load.sh [RUNS] [pytest arguments...]    (defaults: 3 runs of the whole suite)
#   tests/under_load.sh 2 tests/projections tests/services tests/runtime tests/faults
#
# The burner is a Python busy loop (no package needed), started and stopped by its PID.
# PYTHON picks the interpreter (default .venv/bin/python); each run is `-x -q -p no:cacheprovider`.
set -euo pipefail

runs="${1:-3}"
[[ $# -gt 0 ]] && shift
python="${PYTHON:-.venv/bin/python}"

"$python" -c 'while True: pass' &
burner=$!
trap 'kill "$burner" 2>/dev/null; wait "$burner" 2>/dev/null || true' EXIT
echo "under load: CPU burner PID $burner; $runs run(s) of: pytest $*"

for run in $(seq 1 "$runs"); do
    echo "=== run $run of $runs"
    if ! "$python" -m pytest -x -q -p no:cacheprovider "$@"; then
        echo "=== run $run of $runs FAILED under load"
        exit 1
    fi
done
echo "=== $runs run(s) passed under load"
