"""One client-id rule, and every place that checks an id applies it (same yes, same no)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fical_secure.compliance.client_config import parse_client_config
from fical_secure.compliance.schema import Findings
from fical_secure.data.loader import check_hospital_id
from fical_secure.data.schema import CLIENT_ID_RULE, is_client_id
from fical_secure.errors import DataError
from fical_secure.flower.config import _ident

IDS: list[tuple[Any, bool]] = [
    ("h01", True),
    ("H.01_west-2", True),
    ("a" * 64, True),
    ("9", True),
    ("", False),
    ("a" * 65, False),
    ("-h01", False),
    (".h01", False),
    ("_h01", False),
    ("h01\n", False),  # a trailing newline passes `re.match("^...$")`: not this rule
    ("h 01", False),
    ("h01/../x", False),
    ("h\u00e901", False),  # non-ASCII letters
    (5, False),
    (None, False),
]


def _expected(value: str, ok: bool) -> list[str]:
    """The one finding a bad id gets (an empty string fails the YAML string check first)."""
    if ok:
        return []
    return (
        ["client_id: must be a non-empty string, got str"]
        if not value
        else [f"client_id: must be {CLIENT_ID_RULE}"]
    )


@pytest.mark.parametrize(("value", "ok"), IDS)
def test_the_rule(value: Any, ok: bool) -> None:
    assert is_client_id(value) is ok


@pytest.mark.parametrize(("value", "ok"), [(v, ok) for v, ok in IDS if isinstance(v, str)])
def test_data_loading_applies_the_rule(value: str, ok: bool) -> None:
    if ok:
        check_hospital_id(value)
    else:
        with pytest.raises(DataError, match="invalid hospital id"):
            check_hospital_id(value)


@pytest.mark.parametrize(("value", "ok"), [(v, ok) for v, ok in IDS if isinstance(v, str)])
def test_hospital_yaml_applies_the_rule(value: str, ok: bool) -> None:
    f = Findings()
    assert (_ident(f, value, "client_id") == value) is ok
    assert f.problems == _expected(value, ok)


@pytest.mark.parametrize(("value", "ok"), [(v, ok) for v, ok in IDS if isinstance(v, str)])
def test_audit_client_config_applies_the_rule(value: str, ok: bool, tmp_path: Path) -> None:
    f = Findings()
    parse_client_config({"client_id": value}, f, base=tmp_path, source=tmp_path / "c.yaml")
    about_id = [p for p in f.problems if p.startswith("client_id:")]
    assert about_id == _expected(value, ok)
