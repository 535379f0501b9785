"""`audit` scans a candidate with the scrubber the round's scrub stage runs for its client.

The round's scrub stage allows the client's tools' specs (names, arguments,
values are never masked) and masks its known identifiers; `audit` used the
bare packaged scrubber, so it failed releases the round had passed, on tool
names NER tags as organisations ("1 PII span(s) in 1 of 10 released items",
naming neither). Both now build :meth:`Scrubber.for_client`, and a failing
finding names the item and the kinds, with the value masked.
"""

from __future__ import annotations

import pytest

from fical_secure.compliance.inputs import AuditData
from fical_secure.compliance.scrub_checks import check_candidate_clean
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.generator import generate_federation
from fical_secure.scrub.known import known_of
from fical_secure.scrub.scrubber import Scrubber

pytestmark = pytest.mark.slow  # spaCy's model

# the packaged NER tags this tool name as an ORGANIZATION: the round allows it
TOOL_ENTRY = 'Staff write "asthma" for diagnosis="asthma" when they ask for icd10_lookup.'


def test_the_bare_scrubber_flags_a_tool_name_the_client_scrubber_allows() -> None:
    bare = Scrubber.default().analyze([TOOL_ENTRY])[0]
    assert any(s.type == "ORGANIZATION" for s in bare)
    client = Scrubber.for_client(CATALOGUE, ["icd10_lookup"], known_of([]))
    assert client.analyze([TOOL_ENTRY]) == [[]]


def test_the_audit_checks_a_release_with_the_rounds_scrubber() -> None:
    fed = generate_federation(1, seed=3, episodes_per_hospital=12, nonmembers_per_hospital=12)
    (hospital,) = fed.hospitals
    data = AuditData(
        fed.hospitals,
        tuple(fed.manifest),
        "",
        catalogue=tuple(fed.catalogue),
        records={hospital.hospital_id: (*hospital.members, *hospital.nonmembers)},
    )
    patient = next(p.value for e in hospital.members for p in e.pii if p.kind == "PERSON")
    scrubber = data.scrubber_for([hospital])
    assert scrubber.known.find(patient.lower())  # the client's known identifiers, any case
    tool = hospital.tools[0]
    clean = check_candidate_clean(scrubber, [f"Ask for {tool} when booking."], 0)
    assert clean.passed, clean.summary


def test_a_failing_finding_names_the_item_and_kind_and_masks_the_value() -> None:
    texts = [
        "Book the follow-up through appointment_book.",
        "Call Dr. Amelia Hartwell on 617-555-0143 about the results.",
    ]
    result = check_candidate_clean(Scrubber.default(), texts, 0, item_ids=["e-clean", "e-leaky"])
    assert not result.passed
    assert "item e-leaky (" in result.summary and "PHONE_NUMBER" in result.summary
    (flagged,) = result.evidence["flagged_items"]
    assert flagged["item"] == "e-leaky" and "PHONE_NUMBER" in flagged["kinds"]
    assert "Hartwell" not in flagged["masked"] and "555-0143" not in flagged["masked"]
    assert "<PHONE_NUMBER>" in flagged["masked"]
    assert flagged["masked"].endswith("about the results.")
    assert "Hartwell" not in result.summary
