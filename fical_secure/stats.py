"""Small statistics shared by the layers that estimate rates (KCG's claim mining, the audit)."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_bounds(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a rate ``k / n`` (``(0, 1)`` when ``n`` is 0).

    Raises:
        ValueError: ``k`` outside ``[0, n]`` or a negative ``z``.
    """
    if n < 0 or not 0 <= k <= max(n, 0) or z < 0:
        raise ValueError(f"need 0 <= k <= n and z >= 0, got k={k}, n={n}, z={z}")
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
