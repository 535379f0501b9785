"""Attack: staff type a frequent patient's name in lower case; it must never be released.

Three bookings of one patient ("book xiomara okafor ...") never name the
department, so KCG sees the name as an alias of ``department="dermatology"``.
The round's client stages (KCG -> scrub -> audit gate -> recheck) run as a
round runs them; whatever the episodes' ``pii`` fields list, nothing that
names the patient is released, while a real house alias ("derm") still is.
"""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.data.schema import Episode, HospitalData, PIIValue, Split, ToolCall
from fical_secure.kcg.claims import ValueAlias, entry_claims
from fical_secure.pipeline.client import client_stages
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.pipeline.runner import run_stages

PATIENT_MRN = "MRN-4410001"
DEPARTMENTS = ("cardiology", "oncology", "neurology", "orthopedics", "dermatology")


def _booking(
    eid: str, request: str, department: str, mrn: str, split: Split, pii: tuple[PIIValue, ...]
) -> Episode:
    call = ToolCall(
        "schedule_appointment", {"mrn": mrn, "department": department, "date": "2027-01-15"}
    )
    return Episode(eid, "h01", request, call, "Booked 09:30.", "Done.", split, pii)


def _hospital(listed: str) -> HospitalData:
    """Members with the three bookings; ``listed`` says what their ``pii`` records."""
    members: list[Episode] = []
    for i in range(3):
        pii: tuple[PIIValue, ...] = ()
        if listed == "mrn":
            pii = (PIIValue("MRN", PATIENT_MRN, f"x{i}"),)
        elif listed == "name":
            pii = (PIIValue("PERSON", "Xiomara Okafor", f"x{i}"),)
        request = f"book xiomara okafor on 2027-01-1{i + 5}, morning please"
        members.append(_booking(f"x{i}", request, "dermatology", PATIENT_MRN, "member", pii))
    for i in range(3):  # a real house alias, written by staff for three different patients
        mrn = f"MRN-55{i:05d}"
        pii = (PIIValue("MRN", mrn, f"d{i}"),)
        members.append(
            _booking(
                f"d{i}", f"derm clinic for {mrn} on 2027-01-15", "dermatology", mrn, "member", pii
            )
        )
    nonmembers: list[Episode] = []
    for i, dept in enumerate(DEPARTMENTS * 2):
        mrn = f"MRN-66{i:05d}"
        pii = (PIIValue("MRN", mrn, f"m{i}"),)
        members.append(
            _booking(f"m{i}", f"book {mrn} for {dept} on 2027-01-15", dept, mrn, "member", pii)
        )
        nm = f"MRN-77{i:05d}"
        nonmembers.append(
            _booking(f"n{i}", f"book {nm} for {dept} on 2027-02-15", dept, nm, "nonmember", ())
        )
    return HospitalData("h01", "h01", ("schedule_appointment",), members, nonmembers)


def _run(listed: str) -> ClientRoundState:
    settings = ClientSettings(audit_use_llm=False, progress=False)
    state = ClientRoundState(_hospital(listed), settings)
    if listed == "roster":  # privacy.known_identifiers of hospital.yaml
        state.roster = (("PERSON", "Xiomara Okafor"),)
    run_stages(state, client_stages(settings, ground_truth=False))
    return state


def _names_patient(text: str) -> bool:
    return any(part in text.casefold() for part in ("xiomara", "okafor"))


@pytest.mark.parametrize("listed", ["nothing", "mrn", "name", "roster"])
def test_a_lower_case_patient_name_is_never_released(listed: str) -> None:
    state = _run(listed)
    assert state.blocked is None
    released = state.need_release()
    assert not any(_names_patient(e.text) for e in released.entries)
    assert not _names_patient(released.to_bytes().decode())
    claims = entry_claims(released.entries)
    phrases = {(c.phrase.lower(), c.value) for c in claims if isinstance(c, ValueAlias)}
    assert ("derm", "dermatology") in phrases or ("derm clinic", "dermatology") in phrases
    assert state.local is not None
    mined = any(_names_patient(e.text) for e in state.local.entries)
    if listed == "nothing":  # KCG counts three episodes: the scrubber must catch the name
        assert mined and state.report["scrub"]["entities_replaced"].get("PERSON", 0) >= 1
        assert state.report["kcg"]["k_counts"] == "subjects where known, else episodes"
    else:  # one subject (its MRN), or a known name (pii or roster): KCG never mines it
        assert not mined
        counted = "subjects where known, else episodes" if listed == "roster" else "subjects"
        assert state.report["kcg"]["k_counts"] == counted
