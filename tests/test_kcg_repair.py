"""Repair and validation of model-written compendium notes (no model needed)."""

from __future__ import annotations

import pytest

from fical_secure.errors import SchemaError
from fical_secure.kcg.repair import (
    RepairLog,
    is_garbage,
    name_words,
    parse_json_lenient,
    repair_note,
)
from fical_secure.kcg.schema import MAX_ENTRY_CHARS

PROMPT = (
    "Tool: lab_results_lookup\nExamples of requests and the call made:\n"
    '1. Latest HbA1c for Jane Roe, MRN-#######? -> lab_results_lookup(mrn="MRN-#######", '
    'test="HbA1c")\n\nIn one sentence, what is lab_results_lookup used for?\n'
    'Start your sentence with "lab_results_lookup is used to".'
)
OPENING = "lab_results_lookup is used to"
GOOD = "lab_results_lookup is used to fetch the latest laboratory result of a patient."


def _repair(raw: str, values: tuple[str, ...] = ()) -> tuple[str | None, RepairLog]:
    log = RepairLog()
    names = name_words(["Latest HbA1c for Jane Roe, please. Lives at 12 Boyd Freeway."], "HbA1c")
    note = repair_note(
        raw, prompt=PROMPT, example=OPENING, log=log, record_values=values, names=names
    )
    return note, log


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (GOOD, GOOD[0].upper() + GOOD[1:]),
        (
            f'"{GOOD}"',
            "Lab_results_lookup is used to fetch the latest laboratory result of a patient.",
        ),
        (
            f"Answer: {GOOD}",
            "Lab_results_lookup is used to fetch the latest laboratory result of a patient.",
        ),
        (
            f"- {GOOD}<|im_end|>",
            "Lab_results_lookup is used to fetch the latest laboratory result of a patient.",
        ),
        (
            f"assistant\n**{GOOD}** It also does more.",
            "Lab_results_lookup is used to fetch the latest laboratory result of a patient.",
        ),
        (
            "It checks two drugs, e.g. warfarin and aspirin. Then more",
            "It checks two drugs, e.g. warfarin and aspirin.",
        ),
        (
            "Use it to look up a lab result for a patient",
            "Use it to look up a lab result for a patient.",
        ),
        (
            '```json\n{"text": "It fetches lab results for a patient.",}\n```',
            "It fetches lab results for a patient.",
        ),
        (
            "{'text': 'It fetches lab results for a patient.'}",
            "It fetches lab results for a patient.",
        ),
    ],
)
def test_recoverable_output_is_repaired_to_one_clean_sentence(raw: str, expected: str) -> None:
    note, log = _repair(raw)
    assert note == expected
    assert log.kept == 1 and not log.dropped


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   <|im_end|>  ", "empty"),
        ("### ... !!! ??? 123 ###", "garbage"),
        ("数据 查询 工具 用于 检查 实验室 结果", "garbage"),
        ("the the the the the the the the", "garbage"),
        ("Lookup tool.", "too_short"),
        ("lab_results_lookup is used to.", "echo"),
        ('For lab tests, start with "lab_results_lookup is used to" here.', "echo"),
        ("In one sentence, what is lab_results_lookup used for?", "echo"),
        ("It fetched the result for MRN-1234567 this morning.", "pii_mrn"),
        ("It was used for the patient born 1945 in the cardiology clinic.", "pii_digits"),
        ("Send the summary to mary.davies90@yahoo.com after the lookup.", "pii_email"),
        ("Call the patient at (555) 617-9533 after the lookup is done.", "pii_phone"),
        ("It looked up the lab result of Jane Roe for the clinic.", "record_value"),
        ("{'text': 'unterminated", "bad_json"),
        ("It looks up the latest result for Jill at Boyd Freeway.", "pii_name"),
        ("It computes the eGFR of a 21-year-old male patient.", "record_value"),
    ],
)
def test_unusable_output_is_dropped_with_its_reason(raw: str, reason: str) -> None:
    note, log = _repair(raw, values=("Jane Roe", "21", "72.5"))
    assert note is None
    expected = "pii_record_value" if reason == "record_value" else reason
    assert log.dropped == {expected: 1}
    assert log.kept == 0


def test_tool_name_keeps_its_exact_spelling() -> None:
    log = RepairLog()
    raw = "Lab_Results_Lookup is used to fetch the latest result of a patient."
    note = repair_note(raw, prompt=PROMPT, example=OPENING, log=log, tool="lab_results_lookup")
    assert note == "lab_results_lookup is used to fetch the latest result of a patient."


def test_name_words_skip_sentence_starts_and_call_vocabulary() -> None:
    words = name_words(["Please fetch HbA1c for Jane Roe. Lives in Lake Brittany."], "HbA1c")
    assert words == {"Jane", "Roe", "Lake", "Brittany"}


def test_short_numbers_not_in_the_records_are_kept() -> None:
    note, _ = _repair("It returns the ICD-10 code of a diagnosis.", values=("21", "1"))
    assert note == "It returns the ICD-10 code of a diagnosis."


def test_overlong_output_is_cut_to_the_entry_limit_on_a_word_boundary() -> None:
    words = "recent lab results for the patient in a clinic with a named test".split()
    raw = "It fetches " + " ".join(words[i % len(words)] for i in range(120))
    note, log = _repair(raw)
    assert note is not None
    assert len(note) <= MAX_ENTRY_CHARS
    assert note.endswith(".") and note[:-1].split()[-1] in words
    assert log.repaired["truncated"] == 1


def test_repair_counts_accumulate_across_notes_for_the_compendium_meta() -> None:
    log = RepairLog()
    for raw in (GOOD, "", f"Answer: {GOOD}", "MRN-1234567 was checked for the patient"):
        repair_note(raw, prompt=PROMPT, example=OPENING, log=log)
    meta = log.as_dict()
    assert meta["kept"] == 2
    assert meta["dropped"] == {"empty": 1, "pii_mrn": 1}
    assert meta["repaired"]["stripped"] >= 1


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"text": "a", "n": 2}', {"text": "a", "n": 2}),
        ('```json\n{"text": "a",}\n```', {"text": "a"}),
        ("Here you go: {'text': 'a', 'ok': True}", {"text": "a", "ok": True}),
        ('["x", "y",]', ["x", "y"]),
    ],
)
def test_lenient_json_parses_what_weak_models_write(text: str, value: object) -> None:
    assert parse_json_lenient(text) == value


@pytest.mark.parametrize("text", ["no json here", '{"text": "a"', "{'a': __import__('os')}"])
def test_unrecoverable_json_raises_schema_error(text: str) -> None:
    with pytest.raises(SchemaError):
        parse_json_lenient(text)


@pytest.mark.parametrize(
    ("text", "garbage"),
    [
        ("It fetches the latest lab result.", False),
        ("@@@@ #### $$$$", True),
        ("xzq pfft brr", True),
    ],
)
def test_garbage_detector_separates_sentences_from_noise(text: str, garbage: bool) -> None:
    assert is_garbage(text) is garbage


def test_model_output_nested_deeply_is_a_schema_error_not_a_recursion_error() -> None:
    with pytest.raises(SchemaError, match="not recoverable JSON"):
        parse_json_lenient("[" * 5000 + "]" * 5000)
