"""Checks both sides share: the signed config against the roster, and the key directory."""

from __future__ import annotations

from dataclasses import dataclass

from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.primitives import is_low_order_x25519
from fical_secure.errors import ConfigError, InvalidPeerKey, SecAggRefusal, WrongRoundError
from fical_secure.protocol.secagg.messages import AdvertiseKeys, Relay, SecAggConfig
from fical_secure.protocol.secagg.params import SecAggParams


@dataclass(frozen=True)
class PeerKeys:
    """A participant's identity-signed per-round public keys."""

    encryption_public: bytes
    mask_public: bytes


def config_params(cfg: SecAggConfig, roster: Roster) -> SecAggParams:
    """The parameters of a (verified) config whose participants are all enrolled.

    Raises:
        SecAggRefusal: invalid parameters (a weak threshold, a bad graph).
        NotEnrolledError: a participant is not on the roster.
    """
    for key_id in cfg.participants:
        roster.lookup(key_id)
    try:
        return SecAggParams(
            cfg.participants,
            cfg.threshold,
            cfg.k,
            cfg.bits,
            cfg.length,
            cfg.graph_seed,
            cfg.timeouts_s,
        )
    except ConfigError as exc:
        raise SecAggRefusal(f"refusing the round configuration: {exc}") from None


def relay_check(relay: Relay, round_id: int, config_hash: bytes) -> None:
    """Raises WrongRoundError unless the relay belongs to this round and config."""

    if relay.round_id != round_id or relay.config_hash != config_hash:
        raise WrongRoundError(f"relay of round {relay.round_id} is not for round {round_id}")


def read_advert(
    blob: bytes,
    params: SecAggParams,
    roster: Roster,
    round_id: int,
    config_hash: bytes,
    *,
    verify: bool = True,
) -> tuple[int, AdvertiseKeys]:
    """Decode and verify one client's advertised keys; returns (index, message).

    Raises:
        MessageFormatError, WrongRoundError, NotEnrolledError, InvalidSignature,
        SecAggRefusal: a malformed, misrouted, unknown or forged advertisement.
        InvalidPeerKey: a low-order X25519 key (an all-zero pairwise secret or
            share key would abort every neighbour later, or cancel nothing).
    """
    msg = AdvertiseKeys.decode(blob)
    msg.check_round(round_id, config_hash)
    if is_low_order_x25519(msg.encryption_public) or is_low_order_x25519(msg.mask_public):
        raise InvalidPeerKey("an advertised X25519 key is low-order: refused at advertise")
    index = params.index.get(msg.signer_id)
    if index is None:
        raise SecAggRefusal("keys advertised by a client that is not a participant")
    if verify:
        msg.verify(roster.lookup(msg.signer_id))
    return index, msg


def read_directory(
    relay: Relay,
    params: SecAggParams,
    roster: Roster,
    round_id: int,
    config_hash: bytes,
    needed: frozenset[int],
) -> dict[int, PeerKeys]:
    """Every advertised key set; those of ``needed`` clients (the ones this client
    will use: its closed neighbourhood) are signature-checked, every entry is
    parsed and checked for duplicates of any kind.

    Raises:
        SecAggRefusal: a client twice, or one public key used by two entries
            (a copied key would cancel or expose masks).
        WrongRoundError, InvalidSignature, MessageFormatError: as :func:`read_advert`.
    """
    relay_check(relay, round_id, config_hash)
    peers: dict[int, PeerKeys] = {}
    seen_keys: set[bytes] = set()
    for blob in relay.items:
        index, msg = read_advert(blob, params, roster, round_id, config_hash, verify=False)
        if index in needed:
            msg.verify(roster.lookup(msg.signer_id))
        if index in peers:
            raise SecAggRefusal("the key directory lists one client twice")
        keys = {msg.encryption_public, msg.mask_public}
        if len(keys) != 2 or keys & seen_keys:
            raise SecAggRefusal("the key directory repeats a public key: refusing the round")
        seen_keys |= keys
        peers[index] = PeerKeys(msg.encryption_public, msg.mask_public)
    return peers
