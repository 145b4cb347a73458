#!/usr/bin/env bash
# Held-out check of the drift policy (docs/drift_heldout.md): one run per (scene, seed), one at a time,
# then one table. Usage: scripts/drift_heldout.sh [OUT_DIR] [WORKERS]   (default results/drift_heldout, 1)
set -euo pipefail
out=${1:-results/drift_heldout}
workers=${2:-1}
py=${PYTHON:-python}
run() {  # run NAME SEED [--set ...]
    local name=$1 seed=$2
    shift 2
    if grep -qs '"status": "complete"' "$out/$name/manifest.json"; then echo "$name: done already"; return; fi
    local t0=$SECONDS
    "$py" run_sim.py scenarios/drift_heldout.yaml --out "$out/$name" --seed "$seed" --workers "$workers" \
        --quiet --no-plots --overwrite "$@"
    echo "$name: $((SECONDS - t0)) s"
}
run o2_seed1 1                                   # held-out seed: new scene draw and tracks
run o1_seed1 1 --set channel.preset=o1_like      # held-out scene (other street geometry)
run o2_seed2 2                                   # second held-out seed
run o2_seed0 0                                   # the tuning set (drift's defaults frozen on it)
run o2_seed3 3                                   # third held-out seed, added after the first four ran
"$py" -m simnet.heldout "$out"/o2_seed{0,1,2,3} "$out"/o1_seed1 --out "$out" --tuning "$out"/o2_seed0
