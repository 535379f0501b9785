"""One client-id rule, and every place that checks an id applies it (same yes, same no)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from fical_secure.config.client import load_client_config
from fical_secure.config.fields import problems
from fical_secure.config.ids import ClientId
from fical_secure.config.server import load_server_config
from fical_secure.data.loader import check_hospital_id
from fical_secure.data.schema import CLIENT_ID_RULE, is_client_id
from fical_secure.errors import ConfigError, DataError

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


def _expected(value: str, ok: bool, path: str = "client_id") -> list[str]:
    """The one finding a bad id gets (an empty string fails the YAML string check first)."""
    if ok:
        return []
    return (
        [f"{path}: must be a non-empty string, got str"]
        if not value
        else [f"{path}: must be {CLIENT_ID_RULE}"]
    )


def _id_problems(path: Path, key: str) -> list[str]:
    """The problems a configuration file's error lists about ``key``."""
    try:
        (load_server_config if key == "federation_id" else load_client_config)(path)
    except ConfigError as exc:
        return [p.strip() for p in str(exc).splitlines() if p.strip().startswith(f"{key}:")]
    return []


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


@pytest.mark.parametrize(("value", "ok"), IDS)
def test_the_client_id_type_applies_the_rule(value: Any, ok: bool) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(ClientId)
    if ok:
        assert adapter.validate_python(value) == value
    else:
        with pytest.raises(ValidationError) as info:
            adapter.validate_python(value)
        (line,) = problems(info.value, None)
        assert line.startswith("<root>: must be")


@pytest.mark.parametrize(("value", "ok"), [(v, ok) for v, ok in IDS if isinstance(v, str)])
def test_client_config_applies_the_rule(value: str, ok: bool, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps({"client_id": value}), encoding="utf-8")
    assert _id_problems(path, "client_id") == _expected(value, ok)


@pytest.mark.parametrize(("value", "ok"), [(v, ok) for v, ok in IDS if isinstance(v, str)])
def test_server_config_applies_the_rule(value: str, ok: bool, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"federation_id": value}), encoding="utf-8")
    assert _id_problems(path, "federation_id") == _expected(value, ok, "federation_id")
