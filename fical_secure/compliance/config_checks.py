"""Checks of a client configuration against a profile's crypto policy.

Key files are inspected without following symlinks and then loaded through
:mod:`fical_secure.crypto` (which refuses modes wider than 0600 itself), so a
file that passes here is one the client could actually use. Evidence holds
paths, modes and key ids, never key material.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fical_secure.compliance.checks import CheckResult
from fical_secure.compliance.vocabulary import ENVELOPE_SUITE
from fical_secure.config.client import ClientConfig
from fical_secure.config.profile import CryptoPolicy
from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle
from fical_secure.errors import KeyFileError
from fical_secure.jsontypes import JsonObject

_KEY_THREATS = ("compromised-hospital-host", "malicious-client")
_TRANSPORT_THREATS = ("network-attacker", "malicious-server")
_SHARING_THREATS = ("honest-but-curious-server", "research-consumer")


def config_checks(config: ClientConfig, policy: CryptoPolicy) -> list[CheckResult]:
    """Every configuration check, in report order."""
    return [
        check_private_key(config.keys.private_key, policy.private_key_mode),
        check_server_public_key(config.keys.server_public_key),
        check_algorithms(config, policy),
        check_transport(config, policy),
        check_share_mode(config, policy),
        check_data_binding(config),
    ]


def _file_facts(path: Path) -> tuple[JsonObject, str | None]:
    """(evidence, problem) about a key file's existence, type, mode and owner."""
    facts: JsonObject = {"path": str(path)}
    try:
        info = os.lstat(path)
    except OSError as exc:
        return facts | {"exists": False}, f"{path}: {exc.strerror or 'cannot stat'}"
    facts |= {
        "exists": True,
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
        "owner_uid": info.st_uid,
        "owned_by_current_user": info.st_uid == os.geteuid(),
    }
    try:
        facts["folder_mode"] = f"{stat.S_IMODE(os.stat(path.parent).st_mode):04o}"
    except OSError:
        facts["folder_mode"] = None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        return facts, f"{path}: not a regular file (symlinks are refused)"
    return facts, None


def check_private_key(path: Path, max_mode: int) -> CheckResult:
    """The private key file exists, is ours, has no permission bit outside ``max_mode``, loads."""
    facts, problem = _file_facts(path)
    facts["required_mode"] = f"at most {max_mode:04o}"
    if problem is None:
        mode = int(str(facts["mode"]), 8)
        if mode & ~max_mode:
            problem = (
                f"{path}: mode {mode:04o} is wider than {max_mode:04o}; run `chmod 600 {path}`"
            )
        elif not facts["owned_by_current_user"]:
            problem = f"{path}: not owned by the user running the client"
    if problem is None:
        try:
            bundle = KeyBundle.load(path)
            facts["identity_key_id"] = bundle.identity.key_id.hex()
        except KeyFileError as exc:
            problem = str(exc)
    return CheckResult(
        "config.private_key_file",
        "Private key file is present, owner-only (0600) and valid",
        problem is None,
        problem or f"{path}: mode {facts['mode']}, loads as a private key",
        facts,
        _KEY_THREATS,
        remedy=""
        if problem is None
        else f"create the key with `fical-secure keys new`, owned by the client's user, "
        f"then `chmod 600 {path}`",
    )


def check_server_public_key(path: Path) -> CheckResult:
    """The pinned server public key exists, is not writable by others, and its binding verifies."""
    facts, problem = _file_facts(path)
    if problem is None:
        try:
            bundle = PublicKeyBundle.load(path)
            facts["identity_key_id"] = bundle.identity.key_id.hex()
        except KeyFileError as exc:
            problem = str(exc)
    return CheckResult(
        "config.keys.server_public_key",
        "Pinned server public key is present, ours (or root's), not writable by others "
        "(file or folder), and valid",
        problem is None,
        problem or f"{path}: verified server key",
        facts,
        _TRANSPORT_THREATS,
        remedy=""
        if problem is None
        else "copy the server's public.key from the operator over a trusted channel into a "
        "folder only you can write, and point keys.server_public_key at it",
    )


def check_algorithms(config: ClientConfig, policy: CryptoPolicy) -> CheckResult:
    """Each declared algorithm is allowed by the profile and implemented by the envelope."""
    allowed = {
        "aead": set(policy.allowed_aeads),
        "signature": {policy.signature},
        "key_exchange": {policy.key_exchange},
        "kdf": {policy.kdf},
    }
    declared = {
        "aead": config.crypto.aead,
        "signature": config.crypto.signature,
        "key_exchange": config.crypto.key_exchange,
        "kdf": config.crypto.kdf,
    }
    rows: list[JsonObject] = []
    problems = []
    for role, name in declared.items():
        ok_profile, ok_build = name in allowed[role], name == ENVELOPE_SUITE[role]
        rows.append(
            {
                "role": role,
                "declared": name,
                "allowed": sorted(allowed[role]),
                "implemented": ENVELOPE_SUITE[role],
                "passed": ok_profile and ok_build,
            }
        )
        if not ok_profile:
            problems.append(
                f"{role} {name} is not allowed by the profile ({', '.join(sorted(allowed[role]))})"
            )
        elif not ok_build:
            problems.append(
                f"{role} {name} is not what the envelope implements ({ENVELOPE_SUITE[role]})"
            )
    return CheckResult(
        "config.algorithms",
        "Declared algorithms are allowed by the profile and implemented",
        not problems,
        "; ".join(problems) or "all declared algorithms allowed and implemented",
        {"algorithms": rows},
        _TRANSPORT_THREATS,
        remedy=""
        if not problems
        else "declare the envelope's suite in the configuration's crypto section: "
        + ", ".join(f"{role}: {name}" for role, name in ENVELOPE_SUITE.items()),
    )


def check_transport(config: ClientConfig, policy: CryptoPolicy) -> CheckResult:
    """Transport is sealed (signed, encrypted envelopes) when the profile requires it.

    Secure aggregation qualifies: every message is identity-signed, the key
    shares travel in sealed envelopes, and the input itself only masked.
    """
    ok = config.transport in ("sealed", "secagg") or not policy.require_sealed_transport
    summary = (
        f"transport is {config.transport}"
        if ok
        else f"transport is {config.transport}; the profile requires sealed envelopes"
    )
    return CheckResult(
        "config.transport_sealed",
        "Payloads travel in sealed, signed envelopes",
        ok,
        summary,
        {"transport": config.transport, "required": policy.require_sealed_transport},
        _TRANSPORT_THREATS,
        remedy="" if ok else "set `transport: sealed` in the client configuration",
    )


def check_share_mode(config: ClientConfig, policy: CryptoPolicy) -> CheckResult:
    """The client shares a compendium, not raw samples, when the profile forbids raw sharing."""
    ok = config.share_mode == "compendium" or not policy.forbid_raw_sample_sharing
    summary = (
        f"share mode is {config.share_mode}"
        if ok
        else f"share mode is {config.share_mode}: raw private records would leave the hospital"
    )
    return CheckResult(
        "config.share_mode",
        "Only knowledge compendiums are shared, never raw samples",
        ok,
        summary,
        {
            "share_mode": config.share_mode,
            "raw_samples_forbidden": policy.forbid_raw_sample_sharing,
        },
        _SHARING_THREATS,
        remedy=""
        if ok
        else "set `share_mode: compendium` and release the scrubbed, gated compendium instead",
    )


def check_data_binding(config: ClientConfig) -> CheckResult:
    """The configuration names (by SHA-256) the records its release was built from.

    The binding itself is verified when the data is loaded: a file whose bytes
    differ is refused before any check runs.
    """
    bound = config.bound_data
    return CheckResult(
        "config.data_binding",
        "The release is audited against the exact records it was built from",
        bound is not None,
        f"data {bound[0]} bound by SHA-256 {bound[1][:16]}..."
        if bound is not None
        else "the configuration does not name the records its compendium was built from: "
        "the audit scored it against other data",
        {"data": None if bound is None else str(bound[0])},
        _SHARING_THREATS,
        remedy=""
        if bound is not None
        else "add `data: {path: <client>.jsonl, sha256: <sha256sum of it>}` naming the "
        "members (and held-out non-members) the compendium was built from",
    )
