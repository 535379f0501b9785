"""The leakage suite's per-method figures: one frozen record, serialised in one place."""

from __future__ import annotations

import json
import math

from fical_secure.attacks.suite import MethodFigures


def _figures(auc: dict[str, float]) -> MethodFigures:
    return MethodFigures(
        auc=auc,
        auc_ci={name: (0.5, 0.9) for name in auc},
        tpr_at_1pct_fpr={name: 0.0 for name in auc},
        canary_exposure_bits=(1.5, 3.0),
        pii_hits=2,
        verbatim_pii_hits=1,
        extraction=None,
        n_items=10,
        seconds=0.5,
    )


def test_report_form_is_json_with_the_highest_auc_and_no_extraction() -> None:
    row = _figures({"loss": 0.6, "embedding": 0.8}).to_dict()
    assert json.loads(json.dumps(row)) == row
    assert row["max_auc"] == 0.8
    assert row["auc_ci"] == {"loss": [0.5, 0.9], "embedding": [0.5, 0.9]}
    assert row["canary_exposure_bits"] == [1.5, 3.0]
    assert row["extracted_pii"] == {}


def test_max_auc_is_nan_when_no_attack_ran() -> None:
    assert math.isnan(_figures({}).max_auc)
