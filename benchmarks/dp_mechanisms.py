"""Which OpenDP partition-selection mechanism needs fewer subjects behind a claim.

The DP release mode (``fical_secure/release/dp.py``) keeps a claim when its
noisy count of distinct subjects passes a threshold: OpenDP's
``make_laplace_threshold``, each subject voting for at most ``m`` claims
(l0 = l1 = m, linf = 1). OpenDP also offers ``make_gaussian_threshold``,
whose noise grows with sqrt(m) rather than m, so it could let a patient vote
for more claims at the same cost. This benchmark calibrates both to the same
(epsilon, delta) per round, as the release mode calibrates Laplace (the least
noise OpenDP maps to epsilon, then the least threshold for delta), and records
the thresholds: the fewest subjects a claim needs behind it before noise
(OpenDP keeps a noisy count equal to the threshold; both maps are read one
below it, see ``fical_secure/release/dp.py``). The
Gaussian one is zCDP, converted by ``make_zCDP_to_approxDP``; its delta is
split evenly between that conversion and the threshold.

Writes ``benchmarks/results/dp_mechanisms.json``. From the repository root:

    .venv/bin/python benchmarks/dp_mechanisms.py
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fical_secure.atomic import write_json_atomic
from fical_secure.release.dp import MAP_OFFSET, calibrate
from fical_secure.release.policy import DPPolicy

RESULTS = Path(__file__).resolve().parent / "results" / "dp_mechanisms.json"
EPSILONS = (1.0, 2.0, 4.0, 8.0)
CLAIMS = (1, 2, 4, 8)
DELTA = 1e-6
MAX_THRESHOLD = 2**20


def _gaussian(scale: float, threshold: int) -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=int))
    metric = dp.l02inf_distance(dp.absolute_distance(T=int))
    measurement = dp.m.make_gaussian_threshold(domain, metric, scale=scale, threshold=threshold)
    return dp.c.make_zCDP_to_approxDP(measurement)


def gaussian_threshold(epsilon: float, claims: int, delta: float = DELTA) -> tuple[float, int]:
    """(noise standard deviation, threshold) of OpenDP's Gaussian threshold at (epsilon, delta)."""
    import opendp.prelude as dp

    d_in = (claims, claims, 1)

    def epsilon_ok(scale: float) -> bool:
        try:
            profile = _gaussian(scale, MAX_THRESHOLD).map(d_in)[0]
            return bool(profile.epsilon(delta / 2) <= epsilon)
        except dp.OpenDPException:  # too little noise: the profile overflows
            return False

    scale = float(dp.binary_search(epsilon_ok, T=float, bounds=(0.05, 1e4)))

    # the map read one below the threshold the mechanism runs at, as the release mode
    # reads Laplace's: OpenDP keeps a noisy count equal to the threshold, which its map at
    # the threshold leaves out of delta (opendp/opendp#2922, fical_secure/release/dp.py)
    def delta_ok(threshold: int) -> bool:
        return bool(_gaussian(scale, threshold - MAP_OFFSET).map(d_in)[1] <= delta / 2)

    threshold = int(dp.binary_search(delta_ok, T=int, bounds=(1 + MAP_OFFSET, MAX_THRESHOLD)))
    return scale, threshold


def main() -> None:
    rows: dict[str, Any] = {}
    for epsilon in EPSILONS:
        for claims in CLAIMS:
            laplace = calibrate(DPPolicy(epsilon, DELTA, claims, epsilon))
            sd, threshold = gaussian_threshold(epsilon, claims)
            rows[f"epsilon_{epsilon:g}_claims_{claims}"] = {
                "epsilon": epsilon,
                "claims_per_subject": claims,
                "laplace_threshold": laplace.threshold,
                "laplace_scale": round(laplace.scale, 4),
                "gaussian_threshold": threshold,
                "gaussian_sd": round(sd, 4),
                "gaussian_over_laplace": round(threshold / laplace.threshold, 3),
            }
            print(f"epsilon {epsilon:g}, {claims} claims a subject: Laplace {laplace.threshold}, "
                  f"Gaussian {threshold}", flush=True)  # fmt: skip
    lower = [name for name, r in rows.items() if r["gaussian_threshold"] < r["laplace_threshold"]]
    record = {
        "benchmark": "dp_mechanisms",
        "command": "python benchmarks/dp_mechanisms.py",
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, CPU only",
        "baseline": "OpenDP make_laplace_threshold, calibrated as the release mode does, same "
        "(epsilon, delta 1e-6) per round",
        "figures": rows,
        "gaussian_lower_at": lower,
    }
    write_json_atomic(RESULTS, record)
    print(f"wrote {RESULTS}: the Gaussian threshold is lower in {len(lower)} of {len(rows)} cases")


if __name__ == "__main__":
    main()
