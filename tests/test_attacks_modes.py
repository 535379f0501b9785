"""Sharing modes built from one federation by the client pipeline's own stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fical_secure.attacks.modes import MODES, build_modes
from fical_secure.audit.pii_search import search_pii
from fical_secure.data.generator import generate_federation

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM

pytestmark = pytest.mark.slow


def test_every_mode_releases_for_every_client_and_the_gates_remove_pii(
    llm: TransformersLLM,
) -> None:
    # enough episodes that KCG finds claims with support from k distinct episodes
    fed = generate_federation(2, seed=1, episodes_per_hospital=16, nonmembers_per_hospital=4)
    modes = build_modes(fed, llm, audit_llm_records=2, progress=False)
    assert set(modes) == set(MODES)
    for releases in modes.values():
        assert set(releases) == {"h01", "h02"}
    for hospital in fed.hospitals:
        cid = hospital.hospital_id
        raw = modes["sample_sharing"][cid]
        assert raw.artefact.texts == tuple(e.text() for e in hospital.members)
        assert raw.tools == tuple(e.call.tool for e in hospital.members)
        secrets = [p for e in hospital.members for p in e.pii]
        assert search_pii(secrets, raw.artefact.item_ids, raw.artefact.texts)  # raw leaks
        for mode in ("sample_sharing_scrubbed", "compendium_hardened"):
            release = modes[mode][cid]
            hits = search_pii(secrets, release.artefact.item_ids, release.artefact.texts)
            assert [h for h in hits if h.match == "verbatim"] == [], mode
        plain = modes["compendium_plain"][cid]
        assert len(plain.artefact) > 0 and len(plain.tools) == len(plain.artefact)
