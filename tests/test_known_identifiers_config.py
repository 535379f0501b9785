"""hospital.yaml names an optional roster of known identifiers; a bad one fails before joining."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("flwr")

from flower_fleet import free_ports

from fical_secure.config.client import load_hospital_config
from fical_secure.errors import ConfigError, DataError
from fical_secure.flower.client_setup import known_identifiers
from fical_secure.flower.deploy import join
from fical_secure.flower.init import InitOptions, init_federation


@pytest.fixture
def hospital(tmp_path: Path) -> Path:
    port, node = free_ports(2)
    options = InitOptions(clients=1, port=port, first_node_port=node, episodes=4)
    init_federation(tmp_path / "fed", options)
    return tmp_path / "fed" / "clients" / "h01" / "hospital.yaml"


def _name_roster(hospital: Path, name: str) -> None:
    data = yaml.safe_load(hospital.read_text(encoding="utf-8"))
    data["privacy"]["known_identifiers"] = name
    hospital.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_the_roster_reaches_the_client_round(hospital: Path) -> None:
    assert known_identifiers(load_hospital_config(hospital)) == ()
    (hospital.parent / "known.jsonl").write_text(
        '{"kind": "PERSON", "value": "Xiomara Okafor"}\n', encoding="utf-8"
    )
    _name_roster(hospital, "known.jsonl")
    cfg = load_hospital_config(hospital)
    assert cfg.privacy.known_identifiers == hospital.parent / "known.jsonl"
    assert known_identifiers(cfg) == (("PERSON", "Xiomara Okafor"),)


def test_a_missing_or_malformed_roster_fails_before_anything_starts(hospital: Path) -> None:
    _name_roster(hospital, "absent.jsonl")
    with pytest.raises(ConfigError, match=r"privacy\.known_identifiers"):
        load_hospital_config(hospital)
    (hospital.parent / "known.jsonl").write_text('{"kind": "PERSON"}\n', encoding="utf-8")
    _name_roster(hospital, "known.jsonl")
    with pytest.raises(DataError, match="line 1"):
        join(hospital, connect_seconds=0.1)
    assert not (hospital.parent / "out").exists()
