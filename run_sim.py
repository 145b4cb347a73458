"""Run a simnet scenario: ``python run_sim.py scenarios/o2_dynamic.yaml [--out DIR] [--seed N] [--quick]``."""

import sys

from simnet.cli import run_sim_main

if __name__ == "__main__":
    sys.exit(run_sim_main())
