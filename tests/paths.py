"""Paths shared by tests."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
TINY_CELL = ROOT / "tests" / "data" / "tiny_cell.yaml"
