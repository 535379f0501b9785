"""A SecAgg client's round secrets as JSON fields: they come back as written, or fail typed."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from fical_secure.crypto import shamir
from fical_secure.crypto.identity import RoundKey
from fical_secure.crypto.masking import MaskKey
from fical_secure.protocol.secagg.client_state import secrets_from_json, secrets_to_json
from fical_secure.protocol.secagg.peers import PeerKeys


def _holder() -> Any:
    enc, mask = RoundKey.generate(), MaskKey.generate()
    return SimpleNamespace(
        _enc=enc,
        _mask=mask,
        _peers={2: PeerKeys(b"\x01" * 32, b"\x02" * 32), 0: PeerKeys(b"\x03" * 32, b"\x04" * 32)},
        _seed=b"\x05" * 32,
        _held={0: (shamir.Share(3, b"\x06" * 4), shamir.Share(3, b"\x07" * 4))},
        _masked_with=frozenset({0, 2}),
        _blamed=frozenset({2}),
    )


def test_round_secrets_come_back_as_written() -> None:
    held = _holder()
    raw = secrets_to_json(held)
    back = SimpleNamespace()
    secrets_from_json(back, raw)
    assert back._enc.public_bytes() == held._enc.public_bytes()
    assert back._mask.export_for_sharing() == held._mask.export_for_sharing()
    assert back._peers == held._peers and back._seed == held._seed
    assert back._held == held._held
    assert back._masked_with == frozenset({0, 2}) and back._blamed == frozenset({2})


def test_a_client_before_its_keys_writes_no_secret() -> None:
    assert secrets_to_json(SimpleNamespace()) == {}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("seed", 5, TypeError),
        ("seed", "not hex", ValueError),
        ("peers", ["aa", "bb"], TypeError),
        ("peers", {"1": ["aa"]}, ValueError),
        ("held", {"0": [True, "aa", "bb"]}, TypeError),
        ("masked_with", "0,2", TypeError),
    ],
)
def test_a_malformed_field_is_a_typed_error(field: str, value: object, error: type) -> None:
    raw = copy.deepcopy(secrets_to_json(_holder()))
    raw[field] = value
    with pytest.raises(error):
        secrets_from_json(SimpleNamespace(), raw)
