"""What an undetected CSI report error costs, with and without the report CRC -> benchmarks/results/report_crc.json.

The shipped default learned-transform codec codes ``--num-reports`` held-out o1_like channels. For every report, every
single-bit flip of its stream is decoded; a flip is *silent* when the decoder accepts it (its canonical
re-encoding check, the only check without a CRC, does not fire). Then ``--num-random`` random byte strings of
the real streams' lengths stand in for reports. With ``uplink.report_crc: nr`` (CRC11 for these payload
sizes) a flipped or random report reaches the decoder only if its CRC also passes; random strings get a
random 11-bit CRC value. NMSE of a silent error is against the channel the report described, in dB.

    python benchmarks/bench_report_crc.py [--num-reports 20] [--num-random 20000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from simnet.codecs import default_checkpoint, load_codec
from simnet.coding.crc import ReportCheck, passes, protect
from simnet.errors import DataError
from simnet.learning.pretrain import sample_channels
from simnet.sim.beamforming import nmse, to_db

RESULTS = Path(__file__).parent / "results" / "report_crc.json"


def _decode_or_none(codec: Any, stream: bytes) -> np.ndarray | None:
    try:
        return codec.decompress([stream])[0]
    except DataError:
        return None


def _summary(nmse_db: list[float], num_tried: int) -> dict[str, Any]:
    arr = np.asarray(nmse_db)
    return {
        "num_tried": num_tried,
        "num_silent": len(arr),
        "silent_fraction": len(arr) / num_tried,
        "silent_nmse_db_median": float(np.median(arr)) if len(arr) else None,
        "silent_above_0db_fraction": float(np.mean(arr > 0)) if len(arr) else None,
    }


def measure(num_reports: int, num_random: int, seed: int = 0) -> dict[str, Any]:
    codec = load_codec(default_checkpoint())
    h = sample_channels("o1_like", num_reports, seed=seed, split="test")
    streams, h_hat = codec.compress_with_reconstruction(h)
    clean_db = [float(to_db(nmse(h[i], h_hat[i]))) for i in range(num_reports)]
    flips: dict[str, list[float]] = {"none": [], "nr": []}
    num_flips = 0
    for i, stream in enumerate(streams):
        check = protect(stream, "nr")
        for bit in range(8 * len(stream)):
            flipped = bytearray(stream)
            flipped[bit // 8] ^= 0x80 >> (bit % 8)
            num_flips += 1
            decoded = _decode_or_none(codec, bytes(flipped))
            if decoded is not None:
                err_db = float(to_db(nmse(h[i], decoded)))
                flips["none"].append(err_db)
                if passes(bytes(flipped), check):  # never for a single flip: kept so the count is measured
                    flips["nr"].append(err_db)
    rng = np.random.default_rng(seed + 1)
    lengths = [len(s) for s in streams]
    randoms: dict[str, list[float]] = {"none": [], "nr": []}
    num_crc_pass = 0
    for k in range(num_random):
        i = k % num_reports
        stream = rng.integers(0, 256, lengths[i], dtype=np.uint8).tobytes()
        crc_ok = passes(stream, ReportCheck("crc11", int(rng.integers(0, 2**11))))
        num_crc_pass += crc_ok
        decoded = _decode_or_none(codec, stream)
        if decoded is not None:
            err_db = float(to_db(nmse(h[i], decoded)))
            randoms["none"].append(err_db)
            if crc_ok:
                randoms["nr"].append(err_db)
    return {
        "codec": default_checkpoint().name,
        "num_reports": num_reports,
        "mean_stream_bits": float(np.mean([8 * n for n in lengths])),
        "clean_nmse_db_median": float(np.median(clean_db)),
        "single_bit_flips": {name: _summary(v, num_flips) for name, v in flips.items()},
        "random_streams": {name: _summary(v, num_random) for name, v in randoms.items()},
        "random_streams_passing_crc11": num_crc_pass,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-reports", type=int, default=20)
    parser.add_argument("--num-random", type=int, default=20000)
    args = parser.parse_args()
    result = measure(args.num_reports, args.num_random)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
