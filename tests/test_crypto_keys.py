"""Identity keys, key files, the signed round key and the roster."""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
from pathlib import Path

import pytest

from fical_secure.crypto import labels
from fical_secure.crypto.keys import (
    IdentityKey,
    IdentityPublicKey,
    KeyBundle,
    PublicKeyBundle,
    Roster,
    RoundKey,
    SignedRoundKey,
)
from fical_secure.errors import (
    InvalidPeerKey,
    InvalidSignature,
    KeyFileError,
    KeyMisuseError,
    NotEnrolledError,
)


def test_labels_are_distinct_and_none_prefixes_another() -> None:
    for a in labels.ALL_LABELS:
        for b in labels.ALL_LABELS:
            assert a == b or not b.startswith(a)


def test_identity_signature_verifies_and_tampering_is_refused() -> None:
    key = IdentityKey.generate()
    signature = key.sign(b"data")
    key.public.verify(signature, b"data")
    with pytest.raises(InvalidSignature):
        key.public.verify(signature, b"datA")
    with pytest.raises(InvalidSignature):
        IdentityKey.generate().public.verify(signature, b"data")
    with pytest.raises(InvalidSignature):
        key.public.verify(signature[:-1], b"data")


def test_key_ids_are_truncated_sha256_of_the_raw_public_key() -> None:
    identity, round_key = IdentityKey.generate(), RoundKey.generate()
    raw = identity.public.to_bytes()
    assert identity.key_id == hashlib.sha256(raw).digest()[:16]
    assert round_key.key_id == hashlib.sha256(round_key.public_bytes()).digest()[:16]
    assert IdentityPublicKey.from_bytes(raw) == identity.public
    assert hash(IdentityPublicKey.from_bytes(raw)) == hash(identity.public)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_public_key_of_wrong_size_is_misuse(size: int) -> None:
    with pytest.raises(KeyMisuseError):
        IdentityPublicKey.from_bytes(bytes(size))


@pytest.mark.parametrize("make", [IdentityKey.generate, RoundKey.generate, KeyBundle.generate])
def test_private_key_holders_refuse_pickle_and_copy(make: object) -> None:
    holder = make()  # type: ignore[operator]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(KeyMisuseError):
            pickle.dumps(holder, protocol=protocol)
    with pytest.raises(KeyMisuseError):
        copy.deepcopy(holder)


def test_repr_shows_only_the_key_id() -> None:
    identity, round_key = IdentityKey.generate(), RoundKey.generate()
    seed = identity.export_private_bytes(i_understand_this_exposes_the_key=True)
    secret = round_key.export_private_bytes(i_understand_this_exposes_the_key=True)
    bundle = KeyBundle(identity, round_key)
    for holder, private in ((identity, seed), (round_key, secret), (bundle, seed + secret)):
        text = repr(holder) + str(holder)
        assert private.hex() not in text and private.hex()[:8] not in text
        assert identity.key_id.hex() in text or round_key.key_id.hex() in text


def test_exporting_a_private_key_needs_the_explicit_capability() -> None:
    for holder in (IdentityKey.generate(), RoundKey.generate()):
        with pytest.raises(KeyMisuseError):
            holder.export_private_bytes()
        with pytest.raises(KeyMisuseError):
            holder.export_private_bytes(i_understand_this_exposes_the_key="yes")  # type: ignore[arg-type]
        assert len(holder.export_private_bytes(i_understand_this_exposes_the_key=True)) == 32


def test_round_key_refuses_low_order_peers() -> None:
    with pytest.raises(InvalidPeerKey):
        RoundKey.generate().exchange(bytes(32))
    with pytest.raises(InvalidPeerKey):
        RoundKey.generate().exchange((1).to_bytes(32, "little"))


def test_identity_key_file_round_trips_with_mode_0600(tmp_path: Path) -> None:
    key = IdentityKey.generate()
    path = tmp_path / "id.key"
    key.save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    loaded = IdentityKey.load(path)
    assert loaded.public == key.public
    assert path.read_bytes().startswith(b"fical-secure identity-key v1\n")
    assert [p.name for p in tmp_path.iterdir()] == ["id.key"]  # no temp file left


def test_saving_over_an_existing_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "id.key"
    IdentityKey.generate().save(path)
    before = path.read_bytes()
    with pytest.raises(KeyFileError):
        IdentityKey.generate().save(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o700, 0o666, 0o1600])
def test_private_key_file_with_wider_permissions_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "id.key"
    IdentityKey.generate().save(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        IdentityKey.load(path)


def test_read_only_private_key_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "id.key"
    IdentityKey.generate().save(path)
    os.chmod(path, 0o400)
    IdentityKey.load(path)


def test_symlinked_or_missing_key_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "id.key"
    IdentityKey.generate().save(target)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    with pytest.raises(KeyFileError):
        IdentityKey.load(link)
    with pytest.raises(KeyFileError):
        IdentityKey.load(tmp_path / "absent.key")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"fical-secure identity-key v1\n",
        b"fical-secure identity-key v2\n" + b"A" * 43 + b"=\n",
        b"fical-secure round-key v1\n" + b"A" * 43 + b"=\n",
        b"fical-secure identity-key v1\n" + b"A" * 43 + b"=",
        b"fical-secure identity-key v1\n" + b"A" * 43 + b"=\n\n",
        b"fical-secure identity-key v1\n" + b"A" * 42 + b"==\n",
        b"fical-secure identity-key v1\n" + b"A" * 43 + b"!\n",
        b"fical-secure identity-key v1\n" + b"A" * 43 + b"B\n",
        b"\x80\x04\x95 pickle-looking bytes\n",
    ],
)
def test_malformed_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "id.key"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError):
        IdentityKey.load(path)


def test_round_key_file_round_trips(tmp_path: Path) -> None:
    key = RoundKey.generate()
    key.save(tmp_path / "round.key")
    assert RoundKey.load(tmp_path / "round.key").public_bytes() == key.public_bytes()
    with pytest.raises(KeyFileError):
        IdentityKey.load(tmp_path / "round.key")  # another kind


def test_key_bundle_files_round_trip_and_bind_the_encryption_key(tmp_path: Path) -> None:
    bundle = KeyBundle.generate()
    bundle.save(tmp_path / "private.key")
    bundle.public.save(tmp_path / "public.key")
    loaded = KeyBundle.load(tmp_path / "private.key")
    public = PublicKeyBundle.load(tmp_path / "public.key")
    assert loaded.identity.public == bundle.identity.public == public.identity
    assert public.encryption_public == bundle.encryption.public_bytes()
    assert public.encryption_key_id == bundle.encryption.key_id


def test_public_key_with_a_swapped_encryption_key_is_refused(tmp_path: Path) -> None:
    genuine = KeyBundle.generate().public
    forged = PublicKeyBundle(
        genuine.identity, RoundKey.generate().public_bytes(), genuine.binding_signature
    )
    forged.save(tmp_path / "public.key")
    with pytest.raises(KeyFileError, match="invalid public key"):
        PublicKeyBundle.load(tmp_path / "public.key")


def test_group_writable_public_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "public.key"
    KeyBundle.generate().public.save(path)
    os.chmod(path, 0o664)
    with pytest.raises(KeyFileError, match="go-w"):
        PublicKeyBundle.load(path)


def test_signed_round_key_verifies_and_round_trips() -> None:
    server, round_key = IdentityKey.generate(), RoundKey.generate()
    signed = SignedRoundKey.create(server, round_key, round_id=42)
    decoded = SignedRoundKey.decode(signed.encode())
    assert decoded == signed and len(signed.encode()) == SignedRoundKey.ENCODED_SIZE
    decoded.verify(server.public)
    assert decoded.key_id == round_key.key_id


def test_signed_round_key_from_another_server_or_round_is_refused() -> None:
    server, round_key = IdentityKey.generate(), RoundKey.generate()
    signed = SignedRoundKey.create(server, round_key, round_id=42)
    with pytest.raises(InvalidSignature):
        signed.verify(IdentityKey.generate().public)
    moved = SignedRoundKey(43, signed.public, signed.server_key_id, signed.signature)
    with pytest.raises(InvalidSignature):
        moved.verify(server.public)


@pytest.mark.parametrize("blob", [b"", bytes(120), bytes(122), b"\x02" + bytes(120)])
def test_malformed_signed_round_key_is_refused(blob: bytes) -> None:
    with pytest.raises(KeyMisuseError):
        SignedRoundKey.decode(blob)


def test_roster_lookup_verify_and_round_trip() -> None:
    server = IdentityKey.generate()
    clients = [IdentityKey.generate().public for _ in range(5)]
    roster = Roster.create(server, clients, epoch=7)
    decoded = Roster.decode(roster.encode())
    decoded.verify(server.public)
    assert decoded == roster and len(decoded) == 5
    for client in clients:
        assert decoded.lookup(client.key_id) == client
    with pytest.raises(NotEnrolledError):
        decoded.lookup(IdentityKey.generate().key_id)


def test_tampered_or_foreign_roster_is_refused() -> None:
    server = IdentityKey.generate()
    clients = [IdentityKey.generate().public for _ in range(3)]
    roster = Roster.create(server, clients, epoch=7)
    with pytest.raises(InvalidSignature):
        roster.verify(IdentityKey.generate().public)
    grown = Roster.create(server, [*clients, IdentityKey.generate().public], epoch=7)
    spliced = Roster(7, grown.clients, roster.server_key_id, roster.signature)
    with pytest.raises(InvalidSignature):
        spliced.verify(server.public)
    blob = bytearray(roster.encode())
    blob[3] ^= 1  # the epoch
    with pytest.raises(InvalidSignature):
        Roster.decode(bytes(blob)).verify(server.public)


def test_roster_refuses_duplicates_and_non_canonical_order() -> None:
    server, client = IdentityKey.generate(), IdentityKey.generate().public
    with pytest.raises(KeyMisuseError):
        Roster.create(server, [client, client], epoch=1)
    roster = Roster.create(server, [client, IdentityKey.generate().public], epoch=1)
    swapped = roster.encode()[:13] + roster.encode()[45:77] + roster.encode()[13:45]
    with pytest.raises(KeyMisuseError):
        Roster.decode(swapped + roster.encode()[77:])
    with pytest.raises(KeyMisuseError):
        Roster.decode(roster.encode()[:-1])


def test_public_files_are_written_0644_and_private_ones_0600(tmp_path: Path) -> None:
    bundle = KeyBundle.generate()
    bundle.save(tmp_path / "private.key")
    bundle.public.save(tmp_path / "public.key")
    RoundKey.generate().save(tmp_path / "round.key")
    assert os.stat(tmp_path / "public.key").st_mode & 0o777 == 0o644
    assert os.stat(tmp_path / "private.key").st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "round.key").st_mode & 0o777 == 0o600
    PublicKeyBundle.load(tmp_path / "public.key")


@pytest.mark.parametrize("mode", [0o640, 0o644])
def test_round_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "round.key"
    RoundKey.generate().save(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        RoundKey.load(path)


def test_public_keys_compare_and_hash_by_their_bytes() -> None:
    key, other = IdentityKey.generate().public, IdentityKey.generate().public
    again = IdentityPublicKey.from_bytes(key.to_bytes())
    assert key == again and hash(key) == hash(again) and len({key, again, other}) == 2
    assert key != other and hash(key) != hash(other)
    assert key != key.to_bytes() and key != "key"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"round_id": -1}, "round_id"),
        ({"public": bytes(31)}, "public"),
        ({"server_key_id": "0" * 16}, "server_key_id"),
        ({"signature": bytes(63)}, "signature"),
    ],
)
def test_a_malformed_signed_round_key_field_is_named_in_the_error(
    change: dict[str, object], field: str
) -> None:
    signed = SignedRoundKey.create(IdentityKey.generate(), RoundKey.generate(), round_id=1)
    fields: dict[str, object] = {
        "round_id": 1,
        "public": signed.public,
        "server_key_id": signed.server_key_id,
        "signature": signed.signature,
    }
    with pytest.raises(KeyMisuseError, match=f"^{field} must"):
        SignedRoundKey(**{**fields, **change})  # type: ignore[arg-type]
    with pytest.raises(KeyMisuseError, match=r"^round_id must"):
        SignedRoundKey.create(IdentityKey.generate(), RoundKey.generate(), round_id=-1)


def test_signed_round_key_and_bundle_refuse_a_wrong_argument_type() -> None:
    server, round_key = IdentityKey.generate(), RoundKey.generate()
    with pytest.raises(KeyMisuseError):
        SignedRoundKey.create(server, server, round_id=1)  # type: ignore[arg-type]
    with pytest.raises(KeyMisuseError):
        SignedRoundKey.create(round_key, round_key, round_id=1)  # type: ignore[arg-type]
    genuine = KeyBundle.generate().public
    for name, value in (
        ("encryption_public", "e" * 32),
        ("encryption_public", bytes(31)),
        ("binding_signature", "s" * 64),
        ("binding_signature", bytes(65)),
    ):
        fields = {
            "encryption_public": genuine.encryption_public,
            "binding_signature": genuine.binding_signature,
            name: value,
        }
        with pytest.raises(KeyMisuseError, match=f"^{name} must"):
            PublicKeyBundle(genuine.identity, **fields)  # type: ignore[arg-type]


def test_an_empty_roster_round_trips_and_a_bytearray_is_refused() -> None:
    server = IdentityKey.generate()
    empty = Roster.create(server, [], epoch=3)
    assert Roster.decode(empty.encode()) == empty and len(empty) == 0
    with pytest.raises(KeyMisuseError):
        Roster.decode(bytearray(empty.encode()))  # type: ignore[arg-type]


def test_a_key_bundle_of_the_wrong_key_types_is_misuse() -> None:
    identity, encryption = IdentityKey.generate(), RoundKey.generate()
    with pytest.raises(KeyMisuseError):
        KeyBundle(identity, identity)  # type: ignore[arg-type]
    with pytest.raises(KeyMisuseError):
        KeyBundle(encryption, encryption)  # type: ignore[arg-type]


def test_a_public_key_file_with_only_execute_bits_for_others_loads(tmp_path: Path) -> None:
    """Only group/world write is refused on a public key (0o022), not other bits."""
    path = tmp_path / "public.key"
    KeyBundle.generate().public.save(path)
    os.chmod(path, 0o645)
    PublicKeyBundle.load(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")
@pytest.mark.parametrize("chowned", ["file", "folder"])
def test_a_public_key_owned_by_uid_1_is_refused_when_running_as_root(
    tmp_path: Path, chowned: str
) -> None:
    """Trusted owners are us and root only; uid 1 is neither."""
    folder = tmp_path / "keys"
    folder.mkdir()
    path = folder / "public.key"
    KeyBundle.generate().public.save(path)
    os.chown(path if chowned == "file" else folder, 1, -1)
    with pytest.raises(KeyFileError):
        PublicKeyBundle.load(path)
