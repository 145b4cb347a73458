#!/usr/bin/env bash
# Held-out check of the drift policy (docs/drift_heldout.md): one run per (scene, seed), one at a time,
# then one table. Usage: scripts/drift_heldout.sh [OUT_DIR] [WORKERS] [ROUND]
# (default results/drift_heldout, 1, round 1; round 2, the gate: default OUT_DIR results/drift_heldout2;
# round 3, adaptive probing: results/drift_heldout3; round 4, the shadow model: results/drift_heldout4; their
# ray-traced runs need the raytracing extra: SIONNA_PYTHON=...)
set -euo pipefail
round=${3:-1}
default_out=results/drift_heldout
if [ "$round" = 2 ]; then default_out=results/drift_heldout2; fi
if [ "$round" = 3 ]; then default_out=results/drift_heldout3; fi
if [ "$round" = 4 ]; then default_out=results/drift_heldout4; fi
out=${1:-$default_out}
workers=${2:-1}
py=${PYTHON:-python}
scenario=scenarios/drift_heldout.yaml
run() {  # run NAME SEED [--set ...]
    local name=$1 seed=$2
    shift 2
    if grep -qs '"status": "complete"' "$out/$name/manifest.json"; then echo "$name: done already"; return; fi
    local t0=$SECONDS
    "$py" run_sim.py "$scenario" --out "$out/$name" --seed "$seed" --workers "$workers" \
        --quiet --no-plots --overwrite "$@"
    echo "$name: $((SECONDS - t0)) s"
}
if [ "$round" = 4 ]; then  # fresh held-out runs for the shadow model (drift-shadow), frozen on rounds 1 to 3's runs
    run o2_seed8 8
    run o2_seed9 9
    run quadriga_seed3 3 --set channel.preset=quadriga_track --set system.carrier_hz=3.7e9
    scenario=scenarios/drift_heldout_sionna.yaml py=${SIONNA_PYTHON:-$py}
    run munich_seed1 1 --set channel.scene=munich   # unseen scene: ray-traced (Sionna RT), never tuned on
    py=${PYTHON:-python}
    "$py" -m simnet.analysis.heldout "$out"/o2_seed{8,9} "$out"/quadriga_seed3 "$out"/munich_seed1 \
        --adaptive drift drift-gate drift-probe drift-shadow --out "$out"
    exit 0
fi
if [ "$round" = 3 ]; then  # fresh held-out runs for adaptive probing (drift-probe), frozen on rounds 1 and 2's runs
    run o2_seed6 6
    run o2_seed7 7
    run quadriga_seed2 2 --set channel.preset=quadriga_track --set system.carrier_hz=3.7e9
    scenario=scenarios/drift_heldout_sionna.yaml py=${SIONNA_PYTHON:-$py}
    run etoile_seed1 1                            # unseen scene: ray-traced (Sionna RT), never tuned on
    py=${PYTHON:-python}
    "$py" -m simnet.analysis.heldout "$out"/o2_seed{6,7} "$out"/quadriga_seed2 "$out"/etoile_seed1 \
        --adaptive drift drift-gate drift-probe --out "$out"
    exit 0
fi
if [ "$round" = 2 ]; then  # fresh held-out runs for the gate (drift-gate); seed 0 is the tuning/sanity run
    run o2_seed0 0
    run o2_seed4 4
    run o2_seed5 5
    run quadriga_seed1 1 --set channel.preset=quadriga_track --set system.carrier_hz=3.7e9   # unseen scene
    "$py" -m simnet.analysis.heldout "$out"/o2_seed{0,4,5} "$out"/quadriga_seed1 --adaptive drift drift-gate \
        --out "$out" --tuning "$out"/o2_seed0
    exit 0
fi
run o2_seed1 1                                   # held-out seed: new scene draw and tracks
run o1_seed1 1 --set channel.preset=o1_like      # held-out scene (other street geometry)
run o2_seed2 2                                   # second held-out seed
run o2_seed0 0                                   # the tuning set (drift's defaults frozen on it)
run o2_seed3 3                                   # third held-out seed, added after the first four ran
"$py" -m simnet.analysis.heldout "$out"/o2_seed{0,1,2,3} "$out"/o1_seed1 --out "$out" --tuning "$out"/o2_seed0
