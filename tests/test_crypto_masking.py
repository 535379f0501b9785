"""Mask PRG and pairwise seeds: determinism, label separation, cancellation, exactness."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.crypto import labels
from fical_secure.crypto.masking import MaskAccumulator, MaskKey, MaskKind
from fical_secure.errors import InvalidShare, KeyMisuseError

CTX = bytes(range(32))


def test_mask_is_aes256_ctr_of_the_hkdf_key_from_the_full_seed() -> None:
    """Known-answer check against an independent construction from the spec."""
    seed = os.urandom(32)
    key = HKDF(hashes.SHA256(), 32, salt=CTX, info=labels.SECAGG_SELF_PRG).derive(seed)
    stream = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor().update(bytes(4000))
    acc = MaskAccumulator(1000, 32, CTX)
    assert acc.expand(seed, MaskKind.SELF).tobytes() == stream


def test_every_seed_bit_and_the_label_change_the_mask() -> None:
    seed = bytearray(os.urandom(32))
    acc = MaskAccumulator(64, 32, CTX)
    base = acc.expand(bytes(seed), MaskKind.SELF).copy()
    assert not np.array_equal(base, acc.expand(bytes(seed), MaskKind.PAIRWISE))
    for bit in range(256):
        flipped = bytearray(seed)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not np.array_equal(base, acc.expand(bytes(flipped), MaskKind.SELF))


def test_pairwise_seeds_agree_and_differ_per_round() -> None:
    a, b = MaskKey.generate(), MaskKey.generate()
    assert a.pairwise_seed(b.public_bytes(), CTX) == b.pairwise_seed(a.public_bytes(), CTX)
    assert a.pairwise_seed(b.public_bytes(), CTX) != a.pairwise_seed(b.public_bytes(), bytes(32))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 8),
    bits=st.sampled_from([8, 16, 31, 32, 40, 64]),
    length=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
)
def test_pairwise_masks_cancel_and_the_sum_is_exact(
    n: int, bits: int, length: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    keys = [MaskKey.generate() for _ in range(n)]
    total = MaskAccumulator(length, bits, CTX)
    expected = np.zeros(length, dtype=object)
    for i in range(n):
        acc = MaskAccumulator(length, bits, CTX)
        x = rng.integers(0, 2 ** min(bits, 62), length, dtype=np.uint64).astype(acc.dtype)
        acc.add_vector(x)
        expected += x.astype(object)
        for j in range(n):
            if j != i:
                s = keys[i].pairwise_seed(keys[j].public_bytes(), CTX)
                (acc.add if i < j else acc.subtract)(s, MaskKind.PAIRWISE)
        total.add_vector(acc.reduced())
    want = np.asarray([int(v) % (1 << bits) for v in expected], dtype=total.dtype)
    assert np.array_equal(total.reduced(), want)


def test_masked_words_look_uniform_modulo_2_to_the_bits() -> None:
    acc = MaskAccumulator(200_000, 12, CTX)
    acc.add(os.urandom(32), MaskKind.SELF)
    counts = np.bincount(acc.reduced().astype(np.int64) >> 8, minlength=16)
    expected = 200_000 / 16
    assert ((counts - expected) ** 2 / expected).sum() < 45
    assert int(acc.reduced().max()) < 1 << 12


def test_reconstructed_mask_key_must_match_the_advertised_key() -> None:
    key, other = MaskKey.generate(), MaskKey.generate()
    rebuilt = MaskKey.from_reconstructed(key.export_for_sharing(), key.public_bytes())
    assert rebuilt.pairwise_seed(other.public_bytes(), CTX) == key.pairwise_seed(
        other.public_bytes(), CTX
    )
    with pytest.raises(InvalidShare):
        MaskKey.from_reconstructed(other.export_for_sharing(), key.public_bytes())


@pytest.mark.parametrize(("length", "bits"), [(0, 32), (10, 0), (10, 65), (1 << 29, 32)])
def test_bad_mask_shapes_are_misuse(length: int, bits: int) -> None:
    with pytest.raises(KeyMisuseError):
        MaskAccumulator(length, bits, CTX)


def test_mask_keys_refuse_pickling() -> None:
    import pickle

    with pytest.raises(KeyMisuseError):
        pickle.dumps(MaskKey.generate())


def test_pairwise_seed_is_hkdf_of_the_x25519_secret_salted_by_context_and_both_keys() -> None:
    """Known-answer check against an independent construction from the spec."""
    a, b = MaskKey.generate(), MaskKey.generate()
    private = X25519PrivateKey.from_private_bytes(a.export_for_sharing())
    shared = private.exchange(X25519PublicKey.from_public_bytes(b.public_bytes()))
    low, high = sorted((a.public_bytes(), b.public_bytes()))
    salt = hashlib.sha256(CTX + low + high).digest()
    want = HKDF(hashes.SHA256(), 32, salt=salt, info=b"fical-secure/v1/secagg/pairwise-seed")
    assert a.pairwise_seed(b.public_bytes(), CTX) == want.derive(shared)


def test_a_mask_of_one_word_is_accepted_and_one_over_the_maximum_is_not() -> None:
    assert MaskAccumulator(1, 8, CTX).length == 1
    with pytest.raises(KeyMisuseError):
        MaskAccumulator((1 << 28) + 1, 8, CTX)


@pytest.mark.parametrize("length", [True, 2.0])
def test_a_mask_length_that_is_not_an_int_is_misuse(length: object) -> None:
    with pytest.raises(KeyMisuseError):
        MaskAccumulator(length, 32, CTX)  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [31, 32, 33, 63, 64])
def test_masks_reduce_modulo_2_to_the_bits_at_the_word_size_edges(bits: int) -> None:
    acc = MaskAccumulator(4, bits, CTX)
    top = (1 << bits) - 1
    acc.add_vector(np.full(4, top, dtype=acc.dtype))
    acc.add_vector(np.full(4, 2, dtype=acc.dtype))
    assert acc.reduced().tolist() == [1] * 4


def test_a_vector_of_the_wrong_shape_or_dtype_is_misuse() -> None:
    acc = MaskAccumulator(4, 32, CTX)
    for vector in (np.zeros(5, dtype=acc.dtype), np.zeros(4, dtype=np.float64)):
        with pytest.raises(KeyMisuseError):
            acc.add_vector(vector)  # type: ignore[arg-type]


def test_a_mask_keys_repr_shows_a_public_prefix_and_never_the_private_key() -> None:
    key = MaskKey.generate()
    text = repr(key)
    assert text == f"MaskKey(public={key.public_bytes()[:8].hex()}...)"
    assert key._private.hex() not in text and key._private[:4].hex() not in text
