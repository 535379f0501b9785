"""Save and load a whole :class:`Federation` as a folder of JSONL files.

Layout (see docs/data-format.md)::

    meta.json                      format, version, seed, catalogue, hospitals
    catalogue.json                 (optional) the catalogue, when meta.json has none
    <hospital_id>.members.jsonl    member episodes (the loader's episode format)
    <hospital_id>.nonmembers.jsonl (optional) held-out non-member episodes
    eval.jsonl                     {"id", "request", "gold": {"tool", "arguments"},
                                    "hospital"?, "needs"?, "candidates"?,
                                    "possible_answer"?: {parameter: [acceptable values]}}
    manifest.jsonl                 (optional) {"kind", "value", "episode_id"}, planted PII

The catalogue is a list of JSON function specs
(:mod:`fical_secure.data.function_spec`), so a user's own tools load like the
built-in ones.

Loading is the exact inverse of saving (``load_federation(d) == fed``), and
saving is deterministic (the same federation gives byte-identical files).
meta.json is written last, so a folder whose save was interrupted has no
meta.json and fails to load rather than loading partly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fical_secure.data.function_spec import catalogue_from_json, catalogue_to_json, load_catalogue
from fical_secure.data.jsonl import LineParser, read_jsonl, write_jsonl, write_text
from fical_secure.data.loader import (
    call_record,
    check_hospital_id,
    episode_record,
    load_episodes_jsonl,
    parse_call,
)
from fical_secure.data.schema import (
    PII_KINDS,
    EvalRequest,
    Federation,
    HospitalData,
    PIIValue,
    Split,
    ToolSpec,
)
from fical_secure.errors import DataError, UntrustedInputError
from fical_secure.jsontypes import JsonObject
from fical_secure.untrusted import DOCUMENT_LIMITS, load_json_file

FORMAT = "fical-secure/federation"
VERSION = 2  # 2: the catalogue as JSON function specs; optional files
NEEDS = ("docs", "local", "elsewhere")
EVAL_OPTIONAL = ("hospital", "needs", "candidates", "possible_answer")


def _split_path(directory: Path, hospital_id: str, split: str) -> Path:
    return directory / f"{hospital_id}.{split}s.jsonl"


def save_federation(fed: Federation, directory: str | Path) -> None:
    """Write ``fed`` into ``directory`` (created if missing), one JSONL file per split.

    Raises:
        DataError: a hospital id is not usable as a file name, or a file
            cannot be written.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    for hospital in fed.hospitals:
        check_hospital_id(hospital.hospital_id)
        for split, episodes in (("member", hospital.members), ("nonmember", hospital.nonmembers)):
            write_jsonl(
                _split_path(directory, hospital.hospital_id, split),
                (episode_record(e) for e in episodes),
            )
    write_jsonl(directory / "eval.jsonl", (_eval_record(r) for r in fed.eval_requests))
    write_jsonl(
        directory / "manifest.jsonl",
        ({"kind": p.kind, "value": p.value, "episode_id": p.episode_id} for p in fed.manifest),
    )
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "seed": fed.seed,
        "catalogue": catalogue_to_json(fed.catalogue),
        "hospitals": [
            {"hospital_id": h.hospital_id, "name": h.name, "tools": list(h.tools)}
            for h in fed.hospitals
        ],
    }
    write_text(directory / "meta.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def _eval_record(request: EvalRequest) -> JsonObject:
    record: JsonObject = {
        "id": request.request_id,
        "request": request.request,
        "gold": call_record(request.gold),
    }
    if request.hospital_id:
        record["hospital"] = request.hospital_id
    if request.needs:
        record["needs"] = request.needs
    if request.candidates:
        record["candidates"] = list(request.candidates)
    if request.answer is not None:
        record["possible_answer"] = {k: list(v) for k, v in request.answer.items()}
    return record


def _read_meta(directory: Path) -> JsonObject:
    path = directory / "meta.json"
    try:
        meta = load_json_file(path, DOCUMENT_LIMITS)
    except OSError as exc:
        raise DataError(
            f"cannot read {path}: {exc.strerror or exc}; is this a saved federation folder?",
            source=path.name,
        ) from exc
    except UntrustedInputError as exc:
        raise UntrustedInputError(f"{path}: invalid JSON ({exc})", source=path.name) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a {FORMAT} file")
    if meta.get("version") != VERSION:
        raise DataError(
            f"{path}: version {meta.get('version')!r} is not supported "
            f"(this release reads version {VERSION})"
        )
    return meta


def _catalogue(meta: JsonObject, directory: Path) -> tuple[ToolSpec, ...]:
    """The catalogue of meta.json, or of catalogue.json beside it (exactly one of them)."""
    beside = directory / "catalogue.json"
    if "catalogue" in meta and beside.exists():
        raise DataError(
            f"{directory}: both meta.json and catalogue.json hold a catalogue; keep one of them"
        )
    if "catalogue" in meta:
        return catalogue_from_json(meta["catalogue"], where=f"{directory / 'meta.json'} catalogue")
    if not beside.exists():
        raise DataError(
            f"{directory}: no catalogue; put a JSON list of function specs in "
            "catalogue.json or under 'catalogue' in meta.json"
        )
    return load_catalogue(beside)


def _candidate_problems(candidates: Any, gold: str, names: set[str]) -> list[str]:
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        return ["candidates must be a list of tool names"]
    unknown = [c for c in candidates if c not in names]
    if unknown:
        return [f"candidates {unknown[:5]} are not in the catalogue"]
    if candidates and gold not in candidates:
        return [f"candidates must include the gold tool {gold!r}"]
    return []


def _eval_parser(catalogue: tuple[ToolSpec, ...], hospitals: set[str]) -> LineParser[EvalRequest]:
    names = {spec.name for spec in catalogue}

    def parse(value: Any, _line: int) -> tuple[EvalRequest | None, list[str]]:
        if (
            not isinstance(value, dict)
            or not {"id", "request", "gold"} <= set(value)
            or not (set(value) <= {"id", "request", "gold", *EVAL_OPTIONAL})
        ):
            return None, [
                "expected an object with id, request, gold and optionally "
                + ", ".join(EVAL_OPTIONAL)
            ]
        if not isinstance(value["id"], str) or not isinstance(value["request"], str):
            return None, ["id and request must be strings"]
        hospital, needs = value.get("hospital", ""), value.get("needs", "")
        if hospital and hospital not in hospitals:
            return None, [f"hospital {hospital!r} is not listed in meta.json"]
        if needs and needs not in NEEDS:
            return None, [f"needs must be one of {', '.join(NEEDS)}, got {needs!r}"]
        gold, problems = parse_call(value["gold"], catalogue)
        if gold is None:
            return None, problems
        candidates, answer = value.get("candidates", []), value.get("possible_answer")
        problems = _candidate_problems(candidates, gold.tool, names)
        if answer is not None and not (
            isinstance(answer, dict) and all(isinstance(v, list) for v in answer.values())
        ):
            problems.append("possible_answer must map each parameter to a list of values")
        if problems:
            return None, problems
        request = EvalRequest(
            value["id"],
            value["request"],
            gold,
            str(hospital),
            str(needs),
            tuple(candidates),
            answer,
        )
        return request, []

    return parse


def _manifest_entry(value: Any, _line: int) -> tuple[PIIValue | None, list[str]]:
    if not isinstance(value, dict) or set(value) != {"kind", "value", "episode_id"}:
        return None, ["expected an object with exactly kind, value and episode_id"]
    if value["kind"] not in PII_KINDS:
        return None, [f"unknown PII kind {value['kind']!r}"]
    if not isinstance(value["value"], str) or not isinstance(value["episode_id"], str):
        return None, ["value and episode_id must be strings"]
    return PIIValue(value["kind"], value["value"], value["episode_id"]), []


def _hospital(directory: Path, entry: Any, catalogue: tuple[ToolSpec, ...]) -> HospitalData:
    if (
        not isinstance(entry, dict)
        or "hospital_id" not in entry
        or not (set(entry) <= {"hospital_id", "name", "tools"})
    ):
        raise DataError(
            f"{directory / 'meta.json'}: malformed hospital entry {entry!r}; "
            "expected {hospital_id, name?, tools?}"
        )
    hospital_id = entry["hospital_id"]
    check_hospital_id(hospital_id)
    splits: dict[Split, list[Any]] = {}
    for split in ("member", "nonmember"):
        path = _split_path(directory, hospital_id, split)
        if split == "nonmember" and not path.exists():  # optional: only audits use them
            splits[split] = []
            continue
        episodes = load_episodes_jsonl(path, hospital_id=hospital_id, catalogue=catalogue)
        wrong = [e.episode_id for e in episodes if e.split != split]
        if wrong:
            raise DataError(f"{path}: episodes {wrong[:5]} are not marked split={split!r}")
        splits[split] = episodes
    used = {e.call.tool for e in splits["member"]}
    tools = entry.get("tools", [t.name for t in catalogue if t.name in used])
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise DataError(
            f"{directory / 'meta.json'}: tools of {hospital_id!r} must be a list of tool names"
        )
    return HospitalData(
        hospital_id,
        str(entry.get("name", hospital_id)),
        tuple(tools),
        splits["member"],
        splits["nonmember"],
    )


def load_federation(directory: str | Path) -> Federation:
    """Read a federation written by :func:`save_federation`; the exact inverse.

    Raises:
        DataError: meta.json is missing, malformed or of another format
            version, or any file is missing or has an invalid line.
    """
    directory = Path(directory)
    meta = _read_meta(directory)
    catalogue = _catalogue(meta, directory)
    listed = meta.get("hospitals")
    entries = listed if isinstance(listed, list) else []
    hospitals = [_hospital(directory, entry, catalogue) for entry in entries]
    if not hospitals:
        raise DataError(f"{directory / 'meta.json'}: 'hospitals' must list at least one client")
    ids = {h.hospital_id for h in hospitals}
    eval_requests = read_jsonl(directory / "eval.jsonl", _eval_parser(catalogue, ids))
    manifest_path = directory / "manifest.jsonl"
    manifest = read_jsonl(manifest_path, _manifest_entry) if manifest_path.exists() else []
    seed = meta.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DataError(f"{directory / 'meta.json'}: seed must be an integer")
    return Federation(seed, catalogue, hospitals, eval_requests, manifest)
