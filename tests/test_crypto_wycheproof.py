"""Wycheproof vectors (C2SP/wycheproof, Apache-2.0), one pytest case each, run
against OUR boundary in fical_secure.crypto.primitives, not the library beneath.

Expected outcome per result / flag (our policy, stricter than the vectors where noted):
* AEAD (AES-GCM, ChaCha20-Poly1305): "valid" with a 96-bit IV -> exact ct||tag and
  plaintext; "valid" with any other IV length -> KeyMisuseError (policy: 96-bit nonces
  only, SP 800-38D); "invalid" ModifiedTag -> InvalidCiphertext; "invalid"
  ZeroLengthIv / InvalidNonceSize -> KeyMisuseError.
* X25519 has no "invalid" cases; "acceptable" ones are accepted with the expected
  secret (RFC 7748 decoding: twist points, non-canonical encodings), EXCEPT
  LowOrderPublic / ZeroSharedSecret, which our low-order check refuses with
  InvalidPeerKey (and which must be exactly the cases with an all-zero secret).
* Ed25519: "valid" verifies; "invalid" -> InvalidSignature (any signature length).
* HKDF-SHA256: "valid" -> exact okm; "invalid" SizeTooLarge -> KeyMisuseError.
* HMAC-SHA256: "valid" -> the tag is a prefix of our full tag; verify accepts full
  tags; truncated tags (tagSize 128) -> InvalidSignature (policy: full tags only);
  "invalid" ModifiedTag -> not a prefix, and verify raises InvalidSignature.
A final test fails if any file's numberOfTests differs from the cases that passed.
The tally lives in a session-scoped fixture, not a module global, so a runner that
runs the tests twice in one process (mutmut's stats and clean runs) starts from zero.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fical_secure.crypto import primitives as p
from fical_secure.errors import InvalidCiphertext, InvalidPeerKey, InvalidSignature, KeyMisuseError

VECTORS = Path(__file__).parent / "vectors" / "wycheproof"
FILES = {
    "aes_gcm": "aes_gcm_test.json",
    "chacha20_poly1305": "chacha20_poly1305_test.json",
    "x25519": "x25519_test.json",
    "ed25519": "ed25519_test.json",
    "hkdf_sha256": "hkdf_sha256_test.json",
    "hmac_sha256": "hmac_sha256_test.json",
}
Case = tuple[dict[str, Any], dict[str, Any]]


def _load(name: str) -> tuple[int, list[Case]]:
    data = json.loads((VECTORS / FILES[name]).read_text())
    cases = [(group, test) for group in data["testGroups"] for test in group["tests"]]
    return int(data["numberOfTests"]), cases


LOADED = {name: _load(name) for name in FILES}


@pytest.fixture(scope="session")
def passed() -> Counter[str]:
    """Cases passed per file in this pytest session (fresh for every session)."""
    return Counter()


def _params(*names: str) -> list[Any]:
    return [
        pytest.param(name, group, test, id=f"{name}-tc{test['tcId']}")
        for name in names
        for group, test in LOADED[name][1]
    ]


def h(value: str) -> bytes:
    return bytes.fromhex(value)


@pytest.mark.parametrize(("name", "group", "test"), _params("aes_gcm", "chacha20_poly1305"))
def test_aead_vector(
    name: str, group: dict[str, Any], test: dict[str, Any], passed: Counter[str]
) -> None:
    alg = p.Aead.AES_GCM if name == "aes_gcm" else p.Aead.CHACHA20_POLY1305
    key, iv, aad, msg = h(test["key"]), h(test["iv"]), h(test["aad"]), h(test["msg"])
    sealed = h(test["ct"]) + h(test["tag"])
    if len(iv) != p.NONCE_SIZE:
        with pytest.raises(KeyMisuseError):
            p.aead_encrypt(alg, key, iv, msg, aad)
        with pytest.raises(KeyMisuseError):
            p.aead_decrypt(alg, key, iv, sealed, aad)
    elif test["result"] == "valid":
        assert p.aead_encrypt(alg, key, iv, msg, aad) == sealed
        assert p.aead_decrypt(alg, key, iv, sealed, aad) == msg
    else:
        assert test["result"] == "invalid" and "ModifiedTag" in test["flags"]
        assert p.aead_encrypt(alg, key, iv, msg, aad) != sealed
        with pytest.raises(InvalidCiphertext):
            p.aead_decrypt(alg, key, iv, sealed, aad)
    passed[name] += 1


@pytest.mark.parametrize(("name", "group", "test"), _params("x25519"))
def test_x25519_vector(
    name: str, group: dict[str, Any], test: dict[str, Any], passed: Counter[str]
) -> None:
    private, public, shared = h(test["private"]), h(test["public"]), h(test["shared"])
    zero_secret = shared == bytes(32)
    assert zero_secret == ("ZeroSharedSecret" in test["flags"])
    assert test["result"] in ("valid", "acceptable")
    # Our own blocklist check classifies the input before the library runs.
    assert p.is_low_order_x25519(public) == zero_secret
    if zero_secret:
        with pytest.raises(InvalidPeerKey):
            p.x25519(private, public)
    else:
        assert p.x25519(private, public) == shared
    passed[name] += 1


@pytest.mark.parametrize(("name", "group", "test"), _params("ed25519"))
def test_ed25519_vector(
    name: str, group: dict[str, Any], test: dict[str, Any], passed: Counter[str]
) -> None:
    public, msg, sig = h(group["publicKey"]["pk"]), h(test["msg"]), h(test["sig"])
    if test["result"] == "valid":
        p.ed25519_verify(public, sig, msg)
    else:
        assert test["result"] == "invalid"
        with pytest.raises(InvalidSignature):
            p.ed25519_verify(public, sig, msg)
    passed[name] += 1


@pytest.mark.parametrize(("name", "group", "test"), _params("hkdf_sha256"))
def test_hkdf_sha256_vector(
    name: str, group: dict[str, Any], test: dict[str, Any], passed: Counter[str]
) -> None:
    args = {"salt": h(test["salt"]), "info": h(test["info"]), "length": test["size"]}
    if test["result"] == "valid":
        assert p.hkdf_sha256(h(test["ikm"]), **args) == h(test["okm"])
    else:
        assert test["flags"] == ["SizeTooLarge"]
        with pytest.raises(KeyMisuseError):
            p.hkdf_sha256(h(test["ikm"]), **args)
    passed[name] += 1


@pytest.mark.parametrize(("name", "group", "test"), _params("hmac_sha256"))
def test_hmac_sha256_vector(
    name: str, group: dict[str, Any], test: dict[str, Any], passed: Counter[str]
) -> None:
    key, msg, tag = h(test["key"]), h(test["msg"]), h(test["tag"])
    assert len(tag) * 8 == group["tagSize"]
    full = p.hmac_sha256(key, msg)
    if test["result"] == "valid":
        assert full[: len(tag)] == tag
        if len(tag) == p.HMAC_SHA256_SIZE:
            p.hmac_sha256_verify(key, msg, tag)
        else:
            with pytest.raises(InvalidSignature):
                p.hmac_sha256_verify(key, msg, tag)
    else:
        assert full[: len(tag)] != tag
        with pytest.raises(InvalidSignature):
            p.hmac_sha256_verify(key, msg, tag)
    passed[name] += 1


def test_every_vector_of_every_file_ran_and_passed(
    request: pytest.FixtureRequest, passed: Counter[str]
) -> None:
    """numberOfTests of each file equals the cases loaded and the cases passed."""
    selected = Counter(
        item.callspec.id.split("-tc")[0]
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is not None
        and item.module.__name__ == __name__
        and hasattr(item, "callspec")
    )
    partial = []
    for name, (declared, cases) in LOADED.items():
        assert len(cases) == declared, f"{name}: loader saw {len(cases)} of {declared}"
        if selected[name] != declared:
            partial.append(name)
            continue
        assert passed[name] == declared, f"{name}: {passed[name]} of {declared} passed"
    if partial:
        pytest.skip(f"only part of the vectors of {partial} were selected in this session")


@pytest.mark.process
def test_the_tally_starts_from_zero_when_a_runner_reruns_the_file_in_one_process() -> None:
    """Two pytest sessions in one interpreter (as mutmut runs them) both pass."""
    code = (
        "import sys, pytest\n"
        "args = [__file__path, '-q', '-p', 'no:cacheprovider', '-k', 'hkdf or every_vector']\n"
        "sys.exit(max(pytest.main(args) for _ in range(2)))\n"
    ).replace("__file__path", repr(__file__))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:]
    declared = LOADED["hkdf_sha256"][0]
    assert result.stdout.count(f"{declared} passed") == 2, result.stdout[-2000:]
