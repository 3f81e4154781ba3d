#!/usr/bin/env bash
# The README's GitHub Actions workflow, step for step, in a plain shell: a fresh
# virtual environment, glanc pinned to a commit through a git URL (here a
# git+file:// URL of this checkout, as the workflow's git+https:// one), then
# the two CI commands on a taxonomy repository. No llama.cpp is installed.
#
#   scripts/ci-workflow.sh [REPO [BASE [SPEC]]]
#
# REPO: a clone of a taxonomy repository (default: a fresh clone of this one);
# BASE: the revision the pull request targets (default origin/main);
# SPEC: the spec to check (default taxonomies/science.yaml).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
commit="$(git -C "$here" rev-parse HEAD)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="${1:-}"
if [ -z "$repo" ]; then
  git clone -q "$here" "$work/repo"
  repo="$work/repo"
fi
base="${2:-origin/main}"
spec="${3:-taxonomies/science.yaml}"
start=$(date +%s)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "git+file://$here@$commit"
if "$work/venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  echo "ci-workflow: llama_cpp is installed, and the CI install must not need it" >&2
  exit 1
fi
installed=$(date +%s)
cd "$repo"
status=0
"$work/venv/bin/glanc" check "$spec" --base "$base" || status=$?
"$work/venv/bin/glanc" diff --base "$base" --format markdown > "$work/diff.md"
head -5 "$work/diff.md"
end=$(date +%s)
echo "ci-workflow: install $((installed - start)) s, check and diff $((end - installed)) s, glanc $commit"
exit $status
