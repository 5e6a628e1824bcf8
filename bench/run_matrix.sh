#!/usr/bin/env bash
# The benchmark matrix under the name the issue uses; the work is in run_matrix.py (same options:
# --reps, --requests, --quick, --no-scaling, --url, --out, --from-json; see its --help).
exec /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/run_matrix.py" "$@"
