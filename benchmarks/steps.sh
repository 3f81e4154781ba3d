#!/bin/bash
# benchmarks/steps.sh DIR N CHECKOUT: in a benchmark dir whose build is committed on main, add discipline N
# and time plan, build, no-op, check --base main, diff --base main (GNU time), as incremental.sh does
set -u
dir=$1; n=$2; checkout=$3
cd "$dir"
spec=$(ls s*.yaml | head -1)
T=$dir/steps.txt
python=${PYTHON:-$checkout/.venv/bin/python}
common=(--model stub --out builds --store s.duckdb)
run() { label=$1; shift; /usr/bin/time -f "$label %e s %M KB" env -u PYTHONDONTWRITEBYTECODE PYTHONPATH="$checkout" "$python" -m glanc "$@"; }
env -u PYTHONDONTWRITEBYTECODE "$python" -m compileall -q "$checkout/glanc"
printf '  - name: Discipline %05d\n' "$n" >> "$spec"
echo "== discipline $n added, $(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg)" >> "$T"
for _ in 1 2 3; do run "plan" plan "$spec" "${common[@]}" > plan.txt 2>> "$T"; done
run "build" build "$spec" "${common[@]}" -q --concurrency 4 --json > build.json 2>> "$T"
for _ in 1 2 3; do run "no-op" build "$spec" "${common[@]}" -q --concurrency 4 2>> "$T"; done
for _ in 1 2 3; do run "check --base main" check "$spec" --model stub --out builds --base main > check.txt 2>> "$T"; done
run "diff --base main" diff --base main --out builds --format json > diff.json 2>> "$T"
grep -v "short:\|non-zero status 4" "$T" | tail -12
