"""Fixed-point encoding of float vectors for secure aggregation (weighted FedAvg).

A client clips its vector to ``[-clip, clip]``, maps it to integer levels
``0..q-1`` (``q = 2^level_bits``, deterministic rounding, error at most
``clip / (q - 1)`` per coordinate), multiplies by its integer weight (e.g. its
example count) and appends the weight itself as one more word. The secure sum
is then ``(sum w_i Q(x_i), sum w_i)``, from which the server decodes the
weighted mean. The configuration refuses, before any round starts, settings
whose sum could wrap the modulus: ``n * max_weight * (q - 1) < 2^bits``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.errors import QuantizationError

FloatArray = npt.NDArray[np.floating]
UIntArray = npt.NDArray[np.unsignedinteger]


@dataclass(frozen=True)
class FixedPoint:
    """Quantisation settings shared (and agreed) by every client of a round."""

    clip: float
    level_bits: int
    n_clients: int
    max_weight: int = 1
    bits: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.clip, int | float) or not math.isfinite(self.clip) or self.clip <= 0:
            raise QuantizationError(
                f"clip must be a finite number > 0 (got {self.clip!r}): set it to the largest"
                " magnitude a coordinate may take"
            )
        if not 1 <= self.level_bits <= 62 or not 1 <= self.bits <= 64:
            raise QuantizationError("level_bits must be in 1..62 and bits in 1..64")
        if self.n_clients < 1 or self.max_weight < 1:
            raise QuantizationError("n_clients and max_weight must be positive integers")
        worst = self.n_clients * self.max_weight * (self.levels - 1)
        if worst >= 1 << self.bits or self.n_clients * self.max_weight >= 1 << self.bits:
            raise QuantizationError(
                f"{self.n_clients} clients x weight {self.max_weight} x {self.levels - 1} levels"
                f" = {worst} would wrap the modulus 2^{self.bits}: lower level_bits or"
                " max_weight, or raise bits"
            )

    @property
    def levels(self) -> int:
        """Number of quantisation levels ``q``."""
        return 1 << self.level_bits

    @property
    def dtype(self) -> type[np.unsignedinteger]:
        """The word type of the encoded vector."""
        return np.uint32 if self.bits <= 32 else np.uint64

    def encode(self, vector: FloatArray, weight: int) -> UIntArray:
        """``weight * Q(clip(vector))`` followed by ``weight``: ``len(vector) + 1`` words.

        Raises:
            QuantizationError: a non-finite coordinate, or a weight outside 1..max_weight.
        """
        x = np.asarray(vector, dtype=np.float64)
        if x.ndim != 1 or not np.all(np.isfinite(x)):
            raise QuantizationError("the vector must be 1-D and finite (no NaN or inf)")
        if isinstance(weight, bool) or not 1 <= weight <= self.max_weight:
            raise QuantizationError(f"weight must be an integer in 1..{self.max_weight}")
        scaled = (np.clip(x, -self.clip, self.clip) + self.clip) / (2 * self.clip)
        q = np.rint(scaled * (self.levels - 1)).astype(np.uint64)
        out = np.empty(x.size + 1, dtype=self.dtype)
        out[:-1] = q * np.uint64(weight)
        out[-1] = weight
        return out

    def decode_mean(self, total: UIntArray) -> FloatArray:
        """The weighted mean of the clipped vectors from their secure sum.

        Raises:
            QuantizationError: the total weight is zero (no input in the sum).
        """
        weight = int(total[-1])
        if weight == 0:
            raise QuantizationError("the sum holds no weight: no client's input reached it")
        levels = total[:-1].astype(np.float64) / weight
        return levels / (self.levels - 1) * (2 * self.clip) - self.clip

    @property
    def max_error(self) -> float:
        """Largest per-coordinate error of the decoded mean vs the mean of clipped inputs."""
        return self.clip / (self.levels - 1)
