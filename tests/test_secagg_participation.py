"""The client's participation policy and its durable record: differencing pairs are refused.

The record lives in the sealed state file, whose every write is numbered by a
monotonic counter kept outside it: a file put back from an older copy, or
removed, is a rollback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.crypto.bundle import KeyBundle
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey
from fical_secure.errors import ConfigError, ParticipationRefused, RollbackError
from fical_secure.protocol.secagg import Federation
from fical_secure.protocol.secagg.driver import step
from fical_secure.protocol.secagg.participation import Joined, check_participation, release_digest
from fical_secure.protocol.secagg.persist import SecAggStateFile, state_path
from fical_secure.release.policy import ReleasePolicy

A, B, C, D, E, F = (bytes([i]) * 16 for i in range(1, 7))
R1, R2 = release_digest([b"x", b"y"]), release_digest([b"x", b"z"])
EARLIER = Joined(1, R1, frozenset({A, B, C, D}))


@pytest.mark.parametrize(
    ("new", "refused"),
    [
        (Joined(2, R1), True),  # the same release in another prepared round
        (Joined(1, R1, frozenset({A, B, C, D})), False),  # a retry of the same round
        (Joined(2, R2, frozenset({A, B, C})), True),  # one hospital fewer: its release exposed
        (Joined(2, R2, frozenset({A, B, C, D, E})), True),  # one more
        (Joined(2, R2, frozenset({A, B, E, F})), False),  # four differ: at least m = 3
        (Joined(2, R2, frozenset({A, B, C, D})), False),  # the same cohort, a new release
        (Joined(1, R1, frozenset({A, B, C})), True),  # a retry that drops one survivor
        (Joined(2, R2), False),  # a new release, cohort not yet known
    ],
)
def test_the_policy_refuses_differencing_pairs_of_sums(new: Joined, refused: bool) -> None:
    if refused:
        with pytest.raises(ParticipationRefused):
            check_participation([EARLIER], new, 3)
    else:
        check_participation([EARLIER], new, 3)


def test_the_release_digest_ignores_order_but_not_content() -> None:
    assert release_digest([b"y", b"x"]) == R1 != R2
    assert release_digest([b"ab", b"c"]) != release_digest([b"a", b"bc"])


def test_m_is_read_from_the_profile_and_checked() -> None:
    assert load_profile(resolve_profile("strict")).release.secagg_min_cohort_difference == 3
    with pytest.raises(ConfigError):
        ReleasePolicy(secagg_min_cohort_difference=0)


def _one_client(tmp_path: Path) -> tuple[Federation, SecAggStateFile]:
    server_key = IdentityKey.generate()
    bundles = [KeyBundle.generate() for _ in range(3)]
    roster = Roster.create(server_key, [b.identity.public for b in bundles], epoch=1)
    fed = Federation.enrolled(
        server_key, {b.identity.key_id: b.identity for b in bundles}, roster, 5, bits=32, length=8
    )
    me = bundles[0]
    sf = SecAggStateFile(state_path(tmp_path / "private.key"), me, server_key.public)
    return fed, sf


def test_the_joined_record_survives_restarts_sealed(tmp_path: Path) -> None:
    fed, sf = _one_client(tmp_path)
    config = fed.server.configure()
    client = sf.start(config, fed.roster)
    step(client, 0, config, None)
    sf.keep(client, EARLIER)
    assert sf.history() == (EARLIER,)
    assert b"release" not in sf.path.read_bytes()  # sealed, not in the clear
    with pytest.raises(ParticipationRefused):
        check_participation(sf.history(), Joined(9, R1), 3)


def test_a_state_file_put_back_from_a_copy_is_a_rollback(tmp_path: Path) -> None:
    fed, sf = _one_client(tmp_path)
    config = fed.server.configure()
    client = sf.start(config, fed.roster)
    step(client, 0, config, None)
    sf.keep(client)
    shutil.copy(sf.path, tmp_path / "copy.bin")
    sf.keep(sf.resume(fed.roster))  # a later write moves the counter on
    shutil.copy(tmp_path / "copy.bin", sf.path)
    with pytest.raises(RollbackError):
        sf.resume(fed.roster)
    sf.path.unlink()  # removing it rolls back to "never joined": refused as well
    with pytest.raises(RollbackError):
        sf.start(config, fed.roster)


def test_the_counter_only_moves_up(tmp_path: Path) -> None:
    _fed, sf = _one_client(tmp_path)
    sf.counter.advance_to(5)
    sf.counter.advance_to(2)
    assert sf.counter.value() == 5
    assert sf.counter.path.stat().st_mode & 0o777 == 0o600
