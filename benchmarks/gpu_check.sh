#!/usr/bin/env bash
# GPU check: install linksim with the gpu extra, show the card, run the fast tests on it,
# measure PHY throughput and Deep JSCC training speed; write a Markdown fragment.
#
#   bash benchmarks/gpu_check.sh            # on a GPU machine, from the repo root (~5-8 min)
#   bash benchmarks/gpu_check.sh --dry-run  # tiny, on the current python, CPU is fine (~2 min)
#
# Writes $OUT/gpu_results.md (./gpu_results.md when OUT is unset) and, under $OUT, the logs.
# Full run: a venv in $VENV (default /tmp/linksim-gpu-venv; reused when its install
# finished) with python3.11 (or $PYTHON), 'pip install -e .[gpu,test]' from PyPI.
# Every stage after the install has a time limit, so the fragment always gets written.
set -uo pipefail

DRY_RUN=0
case "${1:-}" in
    "") ;;
    --dry-run) DRY_RUN=1 ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--dry-run]" >&2; exit 2 ;;
esac
if [ ! -f pyproject.toml ] || [ ! -d linksim ]; then
    echo "error: run from the linksim repository root" >&2; exit 2
fi

if [ -n "${OUT:-}" ]; then RESULTS="$OUT/gpu_results.md"; LOGS="$OUT"; else
    RESULTS="./gpu_results.md"; LOGS="$(mktemp -d)"; fi
mkdir -p "$LOGS"
# The test subset: the learned link layers, then the PHY closed forms (slowest last, so a
# timeout costs the fewest tests); none needs a data set (a bare GPU machine has none).
# About 4.5 min on 2 busy CPU cores; the limit stops it on a slower machine.
TESTS=(tests/test_learned.py tests/test_mijscc.py tests/test_phy.py)
DESELECT="not mtoc_learns and not stale and not bad_keys and not deepjscc_is_scored and not stages_log"
TEST_LIMIT_S=150
MEASURE_LIMIT_S=240

{
    echo "## GPU check ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([ "$DRY_RUN" = 1 ] && echo ', DRY RUN: tiny sizes'))"
    echo
    echo "Command: \`bash benchmarks/gpu_check.sh$([ "$DRY_RUN" = 1 ] && echo ' --dry-run')\`."
    echo
    echo '```'
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    else
        echo "nvidia-smi: not found"
    fi
    echo '```'
} > "$RESULTS"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi

if [ "$DRY_RUN" = 1 ]; then
    PY="${PYTHON:-python}"
    TESTS=(tests/test_phy.py)
    DESELECT="unit_energy or ebno_convention"
else
    VENV="${VENV:-/tmp/linksim-gpu-venv}"
    BASE_PY="${PYTHON:-$(command -v python3.11 || true)}"
    if [ -z "$BASE_PY" ] && python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        BASE_PY="$(command -v python3)"
    fi
    if [ -z "$BASE_PY" ]; then
        echo "error: python3.11 not found (linksim needs Python 3.11); set PYTHON=/path/to/python3.11" >&2
        echo -e "\n**python3.11 not found: nothing installed or measured.**" >> "$RESULTS"
        exit 2
    fi
    if [ ! -f "$VENV/.linksim-installed" ]; then
        start=$(date +%s)
        {
            "$BASE_PY" -m venv "$VENV" &&
                "$VENV/bin/python" -m pip install --upgrade pip &&
                "$VENV/bin/python" -m pip install --progress-bar off -e '.[gpu,test]'
        } > "$LOGS/pip_install.log" 2>&1
        rc=$?
        tail -3 "$LOGS/pip_install.log"
        if [ "$rc" -ne 0 ]; then
            { echo; echo "**Install failed** (exit $rc):"; echo '```'; tail -5 "$LOGS/pip_install.log"; echo '```'; } >> "$RESULTS"
            echo "error: install failed (log: $LOGS/pip_install.log)" >&2
            exit 1
        fi
        echo "installed in $(( $(date +%s) - start )) s"
        echo -e "\nInstall (venv + \`pip install -e '.[gpu,test]'\`): $(( $(date +%s) - start )) s." >> "$RESULTS"
        touch "$VENV/.linksim-installed"
    fi
    PY="$VENV/bin/python"
fi

{
    echo
    echo '```'
    "$PY" -m pip list 2>/dev/null | grep -i -E '^(tensorflow|keras|sionna|nvidia-cudnn|nvidia-cublas)' || true
    echo "pip check: $("$PY" -m pip check 2>&1 | tail -1)"
    echo '```'
} >> "$RESULTS"
cat "$RESULTS"

echo "== tests (limit ${TEST_LIMIT_S} s)"
start=$(date +%s)
# One line per test (-v without the project's -q), so a run cut short can still be counted.
timeout "$TEST_LIMIT_S" "$PY" -m pytest "${TESTS[@]}" -k "$DESELECT" -o addopts= -v \
    -p no:cacheprovider --durations=5 > "$LOGS/pytest.log" 2>&1
rc=$?
tail -12 "$LOGS/pytest.log"
summary="$(grep -E '^=+ .*(passed|failed|error).* =+$' "$LOGS/pytest.log" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')"
if [ "$rc" = 124 ]; then
    summary="stopped by the ${TEST_LIMIT_S} s limit after $(grep -c ' PASSED' "$LOGS/pytest.log") passed, $(grep -c -E ' (FAILED|ERROR)' "$LOGS/pytest.log") failed"
fi
{
    echo
    echo "### Tests"
    echo
    echo "\`pytest ${TESTS[*]} -k \"$DESELECT\"\`: ${summary:-no summary} (exit $rc, $(( $(date +%s) - start )) s wall)."
} >> "$RESULTS"

echo "== measurements (limit ${MEASURE_LIMIT_S} s)"
dry=()
[ "$DRY_RUN" = 1 ] && dry=(--dry-run)
timeout "$MEASURE_LIMIT_S" "$PY" benchmarks/gpu_check.py --out "$RESULTS" "${dry[@]}" 2>&1 |
    grep -v -E '^(WARNING: All log|[EWI]0000 )' | tee "$LOGS/measure.log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    echo -e "\n**Measurements stopped early (exit $rc$([ "$rc" = 124 ] && echo ": ${MEASURE_LIMIT_S} s limit")); see measure.log.**" >> "$RESULTS"
fi
echo -e "\nWhole check: ${SECONDS} s wall (install included when it ran)." >> "$RESULTS"
echo "== wrote $RESULTS (${SECONDS} s)"
