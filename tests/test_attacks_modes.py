"""Sharing modes built from one federation by the project's own code (real model, slow)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fical_secure.attacks.modes import TEXT_MODES, build_modes
from fical_secure.attacks.pooled import POOLED_OWNER
from fical_secure.attacks.synthetic import SyntheticConfig
from fical_secure.audit.pii_search import search_pii
from fical_secure.data.generator import generate_federation

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM

pytestmark = pytest.mark.slow


def test_every_mode_releases_for_every_client_and_the_gates_remove_pii(
    llm: TransformersLLM,
) -> None:
    # enough episodes that KCG finds claims with support from k distinct episodes;
    # three clients, the fewest secure aggregation runs with
    fed = generate_federation(3, seed=1, episodes_per_hospital=16, nonmembers_per_hospital=4)
    synthetic = SyntheticConfig(max_examples=2, max_new_tokens=32)
    modes = build_modes(fed, llm, audit_llm_records=2, synthetic=synthetic, progress=False)
    assert list(modes) == [m for m in TEXT_MODES if m != "compendium_dp"]  # no DP profile
    ids = {h.hospital_id for h in fed.hospitals}
    for name, mode in modes.items():
        assert set(mode.clients) == ids
        assert set(mode.releases) == (set() if name == "compendium_secagg" else ids)
    for hospital in fed.hospitals:
        cid = hospital.hospital_id
        raw = modes["sample_sharing"].releases[cid]
        assert raw.artefact.texts == tuple(e.text() for e in hospital.members)
        assert raw.tools == tuple(e.call.tool for e in hospital.members)
        secrets = [p for e in hospital.members for p in e.pii]
        assert search_pii(secrets, raw.artefact.item_ids, raw.artefact.texts)  # raw leaks
        for mode in ("sample_sharing_scrubbed", "compendium_hardened"):
            release = modes[mode].releases[cid]
            hits = search_pii(secrets, release.artefact.item_ids, release.artefact.texts)
            assert [h for h in hits if h.match == "verbatim"] == [], mode
        plain = modes["compendium_plain"].releases[cid]
        assert len(plain.artefact) > 0 and len(plain.tools) == len(plain.artefact)
        fake = modes["synthetic_sharing"].releases[cid]
        assert 0 < len(fake.artefact) <= 2 and all(t.strip() for t in fake.artefact.texts)
        assert set(fake.tools) <= set(hospital.tools)
    pooled = modes["compendium_secagg"].pooled
    assert pooled is not None and pooled.artefact.owner == POOLED_OWNER
    hardened = modes["compendium_hardened"]
    union = {t for r in hardened.releases.values() for t in r.artefact.texts}
    assert set(pooled.artefact.texts) == union  # the multiset's entries, once each
    assert not any(cid in i for cid in ids for i in pooled.artefact.item_ids)
