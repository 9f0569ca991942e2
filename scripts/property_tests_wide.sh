#!/usr/bin/env bash
# The property tests with random seeds, round after round: the wide search CI does not make
# (CI draws the same examples every run: the `ci` Hypothesis profile in tests/conftest.py),
# each property with its full count of examples (CI draws fewer where one costs a solve:
# `examples(full, ci=...)` in tests/hypothesis_profiles.py).
# Each round is a fresh seed, printed, so that a failure is replayed with
#   HYPOTHESIS_PROFILE=wide python -m pytest FILE --hypothesis-seed=SEED
# Usage: scripts/property_tests_wide.sh [ROUNDS=5] [pytest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
shift || true
files=$(grep -rl --include='test_*.py' '@given' tests | sort)
failed=0
for round in $(seq 1 "$rounds"); do
  seed=$(python3 -c 'import random; print(random.randrange(2**32))')
  echo "round $round of $rounds: --hypothesis-seed=$seed"
  # shellcheck disable=SC2086
  if ! CI= HYPOTHESIS_PROFILE=wide python -m pytest -q -p no:cacheprovider \
      --hypothesis-seed="$seed" $files "$@"; then
    echo "round $round FAILED with --hypothesis-seed=$seed"
    failed=1
  fi
done
exit "$failed"
