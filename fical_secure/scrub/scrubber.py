"""The PII scrubber: analyze, resolve, propagate, anonymize, scan again; fail closed per record.

Steps for each text:

1. analyze (long texts in overlapping windows, also a recased copy in which
   all-caps runs and lower-case names are Title-cased and identifiers
   upper-cased; where only identifiers changed, the copy is read by the
   recognizers that read text alone), add names found in any
   case (:mod:`fical_secure.scrub.casing`) and the hospital's known
   identifiers, drop spans made only of allow-listed vocabulary (tool names,
   drugs, lab abbreviations);
2. resolve overlapping spans (each cluster becomes one span, so no character
   is replaced twice and none is left half-masked);
3. mark every other occurrence of each found value (any case), resolve again;
4. anonymize with typed placeholders (``<PERSON>``, ``<MRN>``...) through
   Presidio's anonymizer;
5. check that no found value survives, and analyze the result again around
   each placeholder (``RESCAN_MARGIN`` characters each side, widened to whole
   words): what that scan finds outside our placeholders, and any detected
   span left outside the masked ones, is masked too and the text is scanned
   again, up to ``mask_passes`` times. Away from every placeholder the masked
   text is the input, which step 1 read whole and each of whose detections
   the second check finds masked: a scan there would repeat step 1. A later pass
   scans only around the placeholders it added, for the same reason. A text
   whose scan is still not clean, that is too long, or on which the analyzer
   fails is *refused*
   (:class:`Refusal`, with a reason that never quotes the text); every other
   text of the batch is released.

:meth:`Scrubber.scrub_records` gives one outcome per text; :meth:`scrub_batch`
is the all-or-nothing form that raises on the first refusal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fical_secure.config.scrub import ScrubProfile, load_profile
from fical_secure.errors import ResidualPIIError, ScrubAnalyzerError
from fical_secure.scrub.analysis import analyze_texts, window_size, windows_around
from fical_secure.scrub.casing import Casing, load_lexicon
from fical_secure.scrub.engine import (
    build_analyzer,
    case_sensitive_analyzer,
    forget_memos,
    lexical_analyzer,
    spacy_max_length,
)
from fical_secure.scrub.known import KNOWN_SCORE, KnownIdentifiers
from fical_secure.scrub.ner_noise import vague_time
from fical_secure.scrub.spans import (
    placeholder_ranges,
    propagate,
    replace_spans,
    resolve_overlaps,
    to_original,
)
from fical_secure.scrub.types import Refusal, ScrubOutcome, ScrubResult, Span
from fical_secure.scrub.verify import blank_placeholders as _blank_placeholders
from fical_secure.scrub.verify import check_values_gone as _check_values_gone
from fical_secure.scrub.verify import placeholder
from fical_secure.scrub.verify import residual as _residual
from fical_secure.scrub.verify import uncovered as _uncovered
from fical_secure.scrub.vocabulary import AllowList

# NER types that name someone or somewhere (a number alone cannot be one of these).
_NER_NAME_TYPES = frozenset({"PERSON", "ORGANIZATION", "LOCATION", "NRP"})
# Characters read on each side of a placeholder by the scan after masking: spaCy's NER
# sees a few tokens each side (its CNN's receptive field, its transition features),
# Presidio's context words are the 5 before a hit, and a pattern match that crosses a
# placeholder's edge is shorter than this; what lies farther was read in step 1 unchanged.
RESCAN_MARGIN = 128

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

    from fical_secure.data.schema import ToolSpec


class Scrubber:
    """Presidio-based PII scrubber that fails closed per record. Build once, reuse.

    Building the analyzer takes seconds; :meth:`with_context` gives a scrubber
    with another allow-list or known identifiers that shares it.
    """

    _default: Scrubber | None = None

    def __init__(
        self,
        analyzer: AnalyzerEngine,
        profile: ScrubProfile,
        *,
        allow: AllowList | None = None,
        known: KnownIdentifiers | None = None,
    ) -> None:
        from presidio_anonymizer import AnonymizerEngine

        self.analyzer = analyzer
        self.profile = profile
        self.allow = allow if allow is not None else AllowList.build()
        self.known = known if known is not None else KnownIdentifiers()
        nlp = getattr(analyzer.nlp_engine, "nlp", None) or {}
        self.casing = Casing(load_lexicon(nlp.get(profile.language)), self.allow)
        self._anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]

    @classmethod
    def from_profile(
        cls,
        path: str | Path | None = None,
        *,
        catalogue: Sequence[ToolSpec] = (),
        known: KnownIdentifiers | None = None,
    ) -> Scrubber:
        """Build a scrubber from a YAML profile (the packaged default when ``path`` is None).

        ``catalogue``'s tool names, argument names and enum values join the
        clinical vocabulary of the allow-list.

        Raises:
            ConfigError: the profile is invalid (checked before anything is built).
            ScrubAnalyzerError: the analyzer cannot be built.
        """
        profile = load_profile(path)
        return cls(build_analyzer(profile), profile, allow=AllowList.build(catalogue), known=known)

    @classmethod
    def default(cls) -> Scrubber:
        """The process-wide scrubber of the packaged profile (clinical vocabulary only)."""
        if cls._default is None:
            cls._default = cls.from_profile()
        return cls._default

    @classmethod
    def for_client(
        cls,
        catalogue: Sequence[ToolSpec],
        tools: Iterable[str],
        known: KnownIdentifiers,
    ) -> Scrubber:
        """The scrubber one client's release passes, in the round and in ``audit`` alike.

        The default profile, with the specs of the client's ``tools`` as the
        allow-list (their names, arguments and values are never masked) and
        the client's known identifiers masked in any case or spelling.
        """
        wanted = set(tools)
        specs = [spec for spec in catalogue if spec.name in wanted]
        return cls.default().with_context(catalogue=specs, known=known)

    def with_context(
        self,
        *,
        catalogue: Sequence[ToolSpec] | None = None,
        known: KnownIdentifiers | None = None,
    ) -> Scrubber:
        """This scrubber's analyzer with a catalogue's allow-list and/or known identifiers."""
        allow = self.allow if catalogue is None else AllowList.build(catalogue)
        return Scrubber(
            self.analyzer, self.profile, allow=allow, known=self.known if known is None else known
        )

    def analyze(
        self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1
    ) -> list[list[Span]]:
        """Detected spans of each text, overlaps resolved, offsets into that text.

        Raises:
            ScrubAnalyzerError: the analyzer failed on some text.
        """
        spans, failed = self._detect(texts, batch_size=batch_size, n_process=n_process)
        if failed:
            index, reason = min(failed.items())
            raise ScrubAnalyzerError(f"text {index}: {reason}; nothing was released")
        return [resolve_overlaps(found) for found in spans]

    def _detect(
        self,
        texts: Sequence[str],
        *,
        batch_size: int,
        n_process: int,
        regions: Sequence[Sequence[tuple[int, int]]] | None = None,
    ) -> tuple[list[list[Span]], dict[int, str]]:
        """Spans per text, unresolved (known identifiers added, vocabulary dropped), and failures.

        ``regions`` limits the analyzer to stretches of each text
        (:func:`fical_secure.scrub.analysis.make_units`); names in any case and
        known identifiers (cheap, lexical) are always looked for in the whole text.
        """
        window = window_size(
            self.profile.chunk_chars, spacy_max_length(self.analyzer, self.profile.language)
        )
        overlap = min(self.profile.overlap_chars, window // 4)
        raw, failed = analyze_texts(
            self.analyzer,
            texts,
            language=self.profile.language,
            window=window,
            overlap=overlap,
            batch_size=batch_size,
            n_process=n_process,
            recase=self.casing.recase,
            recased_analyzer=case_sensitive_analyzer(self.analyzer),
            regions=regions,
            names_only=self.casing.recase_names,
            lexical_analyzer=lexical_analyzer(self.analyzer),
        )
        out: list[list[Span]] = []
        for text, spans in zip(texts, raw, strict=True):
            known = self.known.find(text)
            kept = [
                s
                for s in spans
                + self.casing.name_spans(text)
                + [k for k in known if k.score < KNOWN_SCORE]
                if not self._noise(s.type, text[s.start : s.end])
            ]
            out.append(kept + [k for k in known if k.score >= KNOWN_SCORE])
        return out, failed

    def _noise(self, kind: str, value: str) -> bool:
        """A detection that names nobody: vocabulary, a vague time, vocabulary plus numbers."""
        if self.allow.covers(value):
            return True
        if kind == "DATE_TIME":
            return vague_time(value)
        return kind in _NER_NAME_TYPES and self.allow.covers_words(value)

    def scrub(self, text: str) -> ScrubResult:
        """Scrub one text. See :meth:`scrub_batch` for what raises."""
        return self.scrub_batch([text])[0]

    def scrub_batch(
        self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1
    ) -> list[ScrubResult]:
        """Scrub many texts; all or nothing (see :meth:`scrub_records` for one outcome each).

        Raises:
            ScrubAnalyzerError: the analyzer or anonymizer failed on any text.
            ResidualPIIError: some text was refused (PII still found, or too long).
        """
        outcomes = self.scrub_records(texts, batch_size=batch_size, n_process=n_process)
        results: list[ScrubResult] = []
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, Refusal):
                error = ScrubAnalyzerError if outcome.analyzer_failed else ResidualPIIError
                raise error(f"text {i}: {outcome.reason}; nothing was released")
            results.append(outcome)
        return results

    def scrub_records(
        self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1
    ) -> list[ScrubOutcome]:
        """One outcome per text: its :class:`ScrubResult`, or a :class:`Refusal` saying why.

        A refused text releases nothing; the others are unaffected by it.
        """
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        outcomes: list[ScrubOutcome | None] = [None] * len(texts)
        limit = self.profile.max_record_chars
        for i, text in enumerate(texts):
            if len(text) > limit:
                outcomes[i] = Refusal(
                    f"record has {len(text)} characters, over max_record_chars={limit} of the "
                    "profile; split the record or raise the limit"
                )
        try:
            self._scrub_todo(texts, outcomes, batch_size, n_process)
        finally:
            forget_memos(self.analyzer)
        return [out if out is not None else Refusal("internal: no outcome") for out in outcomes]

    def _scrub_todo(
        self,
        texts: Sequence[str],
        outcomes: list[ScrubOutcome | None],
        batch_size: int,
        n_process: int,
    ) -> None:
        """Fill each ``None`` outcome: analyze, mask, scan after masking (see the module doc)."""
        todo = [i for i, out in enumerate(outcomes) if out is None]
        found_list, failed = self._detect(
            [texts[i] for i in todo], batch_size=batch_size, n_process=n_process
        )
        # every detection, as detected: what masking must cover, whatever resolution does
        detected = dict(zip(todo, found_list, strict=True))
        found = {i: resolve_overlaps(spans) for i, spans in detected.items()}
        for j, reason in failed.items():
            outcomes[todo[j]] = Refusal(reason, analyzer_failed=True)
        todo = [i for i in todo if outcomes[i] is None]
        final: dict[int, list[Span]] = {}
        scrubbed: dict[int, str] = {}
        scanned: dict[int, frozenset[Span]] = {}  # the spans masked when a text was last scanned
        for pass_no in range(1, self.profile.mask_passes + 1):
            for i in list(todo):
                final[i] = resolve_overlaps(propagate(texts[i], found[i]))
                try:
                    scrubbed[i] = self._anonymize(texts[i], final[i])
                    _check_values_gone(
                        texts[i], final[i], _blank_placeholders(scrubbed[i], final[i])
                    )
                except (ScrubAnalyzerError, ResidualPIIError) as exc:
                    crashed = isinstance(exc, ScrubAnalyzerError)
                    outcomes[i] = Refusal(str(exc), analyzer_failed=crashed)
                    todo.remove(i)
            # Scanned again around every placeholder (see the module doc); a fault before
            # it (resolution, propagation, masking) shows there or in the checks above.
            changed = list(todo)
            regions = []
            for i in changed:
                # around the placeholders this pass added: elsewhere the text is what the
                # previous scan read, and what it found there is masked now
                before = scanned.get(i, frozenset())
                ranges = placeholder_ranges(final[i], placeholder)
                added = [r for span, r in zip(final[i], ranges, strict=True) if span not in before]
                regions.append(windows_around(scrubbed[i], added, RESCAN_MARGIN))
                scanned[i] = frozenset(final[i])
            scans, failed = self._detect(
                [scrubbed[i] for i in changed],
                batch_size=batch_size,
                n_process=n_process,
                regions=regions,
            )
            residual: dict[int, list[Span]] = {}
            for j, (i, scan) in enumerate(zip(changed, map(resolve_overlaps, scans), strict=True)):
                if j in failed:
                    outcomes[i] = Refusal(
                        failed[j] + " in the scan after masking", analyzer_failed=True
                    )
                    continue
                blanked = _blank_placeholders(scrubbed[i], final[i])
                left = [to_original(final[i], placeholder, r) for r in _residual(blanked, scan)]
                left += _uncovered(detected[i], final[i])  # what resolution lost counts as found
                if left:
                    residual[i] = left
            for i in todo:
                if outcomes[i] is None and i not in residual:
                    outcomes[i] = ScrubResult(scrubbed=scrubbed[i], entities=final[i])
            todo = sorted(residual)
            for i in todo:
                if pass_no == self.profile.mask_passes:
                    kinds = tuple(sorted({s.type for s in residual[i]}))
                    outcomes[i] = Refusal(
                        f"the scan after {pass_no} masking pass(es) still found "
                        f"{len(residual[i])} span(s) of {', '.join(kinds)}",
                        kinds,
                    )
                else:
                    found[i] = final[i] + residual[i]
                    detected[i] = detected[i] + residual[i]
            if not todo:
                break

    def _anonymize(self, text: str, spans: list[Span]) -> str:
        """Replace each (non-overlapping) span by its typed placeholder, via Presidio.

        Presidio's output is checked against the same replacement done here, so
        the offsets reported and mapped later are exact.

        Raises:
            ScrubAnalyzerError: the anonymizer failed or disagreed.
        """
        if not spans:
            return text
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        results = [RecognizerResult(s.type, s.start, s.end, s.score) for s in spans]
        operators: dict[str, OperatorConfig] = {
            s.type: OperatorConfig("replace", {"new_value": placeholder(s.type)}) for s in spans
        }
        try:
            out: str = self._anonymizer.anonymize(
                text=text,
                analyzer_results=results,
                operators=operators,
                merge_entities_with_spaces=False,
            ).text
        except Exception as exc:  # fail closed: a failed anonymizer releases nothing
            raise ScrubAnalyzerError(
                f"PII anonymizer failed ({type(exc).__name__}); nothing was released"
            ) from exc
        if out != replace_spans(text, spans, placeholder):
            raise ScrubAnalyzerError(
                "PII anonymizer output disagrees with the resolved spans; nothing was released"
            )
        return out
