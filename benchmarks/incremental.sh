#!/bin/bash
# A change costs what it changes (issue 32): a synthetic stub build of PAIRS pairs,
# committed on main of a new git repository in DIR, then one discipline added:
# plan, build, no-op, check --base main, diff --base main, and a build of the grown
# spec from scratch compared byte for byte with the incremental one.
#
#   benchmarks/incremental.sh PAIRS DIR [CHECKOUT]     (CHECKOUT: the glanc to time)
#
# SCRATCH=0 skips the from-scratch build; GATE=FILE waits for FILE after the full build.
# Each step's wall time and peak RSS go to DIR/times.txt (GNU time).
set -eu
pairs=$1
dir=$2
checkout=${3:-$(cd "$(dirname "$0")/.." && pwd)}
python=${PYTHON:-$checkout/.venv/bin/python}
# exit 4 (the quota left short: the stub's subject names, drawn from a dozen words of its
# prompt, repeat, and the subject checks leave some out) is noted and the steps go on
run() {
  label=$1; shift
  /usr/bin/time -f "$label %e s %M KB" env PYTHONPATH="$checkout" "$python" -m glanc "$@" \
    || { rc=$?; [ "$rc" = 4 ] || exit "$rc"; echo "$label: exit 4 (short)" >&2; }
}
mkdir -p "$dir"
cd "$dir"
T=$dir/times.txt
spec=s$pairs.yaml
PYTHONPATH="$checkout" "$python" "$checkout/benchmarks/synthetic.py" "$pairs" "$spec" > /dev/null
common=(--model stub --out builds --store s.duckdb)
run "full build" build "$spec" "${common[@]}" -q --concurrency 4 2>> "$T"
# GATE=FILE: wait for FILE before the timed steps below (keep the machine quiet for them)
if [ -n "${GATE:-}" ]; then echo "waiting for $GATE" >> "$T"; while [ ! -e "$GATE" ]; do sleep 5; done; fi
for _ in 1 2 3; do run "no-op" build "$spec" "${common[@]}" -q --concurrency 4 2>> "$T"; done
git init -q -b main
git add "$spec" builds
git -c user.email=b@b -c user.name=b commit -q -m base
last=$(grep -c "name: Discipline" "$spec")
printf '  - name: Discipline %05d\n' "$last" >> "$spec"
for _ in 1 2 3; do run "added: plan" plan "$spec" "${common[@]}" > plan.txt 2>> "$T"; done
run "added: build" build "$spec" "${common[@]}" -q --concurrency 4 --json > build.json 2>> "$T"
for _ in 1 2 3; do run "added: no-op" build "$spec" "${common[@]}" -q --concurrency 4 2>> "$T"; done
for _ in 1 2 3; do run "added: check --base main" check "$spec" --model stub --out builds --base main > check.txt 2>> "$T"; done
run "added: diff --base main" diff --base main --out builds --format json > diff.json 2>> "$T"
if [ "${SCRATCH:-1}" = 1 ]; then
  run "added: from scratch" build "$spec" --model stub --out scratch --store scratch.duckdb -q --concurrency 4 2>> "$T"
  if diff -r "builds/synthetic-$pairs" "scratch/synthetic-$pairs" > /dev/null; then
    echo "incremental == from scratch: identical" >> "$T"
  else
    echo "incremental != from scratch: DIFFERENT" >> "$T"
  fi
fi
echo "largest file: $(find builds -type f -printf '%s %p\n' | sort -n | tail -1)" >> "$T"
echo "files: $(find builds -type f | wc -l)" >> "$T"
