"""Shamir sharing over GF(2^31 - 1): reconstruction, hiding, integrity (hypothesis)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.crypto import shamir
from fical_secure.errors import InvalidShare, KeyMisuseError

P = shamir.PRIME


def _commit_all(shares: list[shamir.Share]) -> tuple[dict[int, bytes], dict[int, bytes]]:
    contexts = {s.x: b"round-1|dealer-a|holder-%d|seed" % s.x for s in shares}
    return contexts, {s.x: shamir.commit_share(s, contexts[s.x]) for s in shares}


def _lagrange0(xs: list[int]) -> list[int]:
    """Independent big-integer oracle: Lagrange coefficients at 0 modulo p."""
    out = []
    for i, xi in enumerate(xs):
        num = den = 1
        for j, xj in enumerate(xs):
            if i != j:
                num = num * xj % P
                den = den * (xj - xi) % P
        out.append(num * pow(den, P - 2, P) % P)
    return out


@settings(max_examples=60, deadline=None)
@given(
    secret=st.binary(min_size=1, max_size=64),
    n=st.integers(1, 30),
    data=st.data(),
)
def test_any_threshold_subset_reconstructs_the_secret(
    secret: bytes, n: int, data: st.DataObject
) -> None:
    t = data.draw(st.integers(1, n))
    xs = data.draw(st.lists(st.integers(1, 500), min_size=n, max_size=n, unique=True))
    shares = shamir.split([secret], xs, t)[0]
    contexts, commitments = _commit_all(shares)
    subset = data.draw(st.lists(st.sampled_from(shares), min_size=t, max_size=n, unique=True))
    got = shamir.combine(
        subset, threshold=t, secret_len=len(secret), contexts=contexts, commitments=commitments
    )
    assert got == secret


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 12), data=st.data())
def test_fewer_than_threshold_shares_are_consistent_with_every_secret(
    n: int, data: st.DataObject
) -> None:
    """Perfect hiding: t-1 shares plus one suitable point interpolate to ANY target secret."""
    t = data.draw(st.integers(2, n))
    secret, target = os.urandom(32), data.draw(st.binary(min_size=32, max_size=32))
    shares = shamir.split([secret], list(range(1, n + 1)), t)[0][: t - 1]
    xs = [s.x for s in shares] + [n + 1]
    lam = _lagrange0(xs)
    want = shamir._to_chunks(target).tolist()
    ys = [
        list(int.from_bytes(s.y[i : i + 4], "big") for i in range(0, len(s.y), 4)) for s in shares
    ]
    forged = []
    for c, goal in enumerate(want):
        partial = sum(lam[i] * ys[i][c] for i in range(t - 1)) % P
        forged.append((goal - partial) * pow(lam[-1], P - 2, P) % P)
    point = shamir.Share(n + 1, b"".join(v.to_bytes(4, "big") for v in forged))
    contexts, commitments = _commit_all([*shares, point])
    got = shamir.combine(
        [*shares, point], threshold=t, secret_len=32, contexts=contexts, commitments=commitments
    )
    assert got == target


def test_threshold_minus_one_shares_are_uniform_over_the_field() -> None:
    """Chi-square on the top 4 bits of share values: same law for two fixed secrets."""
    for secret in (bytes(32), b"\xff" * 32):
        counts: Counter[int] = Counter()
        for _ in range(400):
            for share in shamir.split([secret], [1, 2, 3], 3)[0][:2]:
                for i in range(0, len(share.y), 4):
                    counts[int.from_bytes(share.y[i : i + 4], "big") >> 27] += 1
        total = sum(counts.values())
        expected = total / 16
        chi2 = sum((counts[b] - expected) ** 2 / expected for b in range(16))
        assert chi2 < 45, chi2  # 15 dof: p ~ 1e-4 threshold


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_tampered_share_is_detected_never_reconstructed(data: st.DataObject) -> None:
    secret = os.urandom(32)
    shares = shamir.split([secret], list(range(1, 8)), 4)[0]
    contexts, commitments = _commit_all(shares)
    victim = data.draw(st.integers(0, 3))
    y = bytearray(shares[victim].y)
    pos = data.draw(st.integers(0, len(y) - 1))
    y[pos] ^= data.draw(st.integers(1, 255))
    tampered = list(shares[:4])
    tampered[victim] = shamir.Share(shares[victim].x, bytes(y))
    with pytest.raises(InvalidShare):
        shamir.combine(
            tampered, threshold=4, secret_len=32, contexts=contexts, commitments=commitments
        )


def test_a_share_moved_to_another_holder_or_dealer_is_detected() -> None:
    shares = shamir.split([os.urandom(32)], [1, 2, 3], 2)[0]
    contexts, commitments = _commit_all(shares)
    moved = shamir.Share(3, shares[0].y)  # holder 1's value claimed as holder 3's
    with pytest.raises(InvalidShare):
        shamir.combine(
            [shares[1], moved],
            threshold=2,
            secret_len=32,
            contexts=contexts,
            commitments=commitments,
        )
    other_dealer = {x: c.replace(b"dealer-a", b"dealer-b") for x, c in contexts.items()}
    with pytest.raises(InvalidShare):
        shamir.combine(
            shares[:2], threshold=2, secret_len=32, contexts=other_dealer, commitments=commitments
        )


def test_inconsistent_dealing_is_detected_by_the_encoding_check() -> None:
    """Committed but off-polynomial shares (a cheating dealer) do not decode silently."""
    good = shamir.split([bytes(32)], [1, 2, 3], 2)[0]
    bad = shamir.Share(2, (b"\x7f\xff\xff\xfe") * (len(good[0].y) // 4))
    contexts, commitments = _commit_all([good[0], bad])
    with pytest.raises(InvalidShare):
        shamir.combine(
            [good[0], bad], threshold=2, secret_len=32, contexts=contexts, commitments=commitments
        )


@pytest.mark.parametrize(("xs", "t"), [([1, 2], 3), ([1, 1, 2], 2), ([0, 1, 2], 2), ([1, 2, 3], 0)])
def test_bad_parameters_are_caller_misuse(xs: list[int], t: int) -> None:
    with pytest.raises(KeyMisuseError):
        shamir.split([b"secret"], xs, t)


def test_two_secrets_split_at_once_reconstruct_independently() -> None:
    a, b = os.urandom(32), os.urandom(32)
    both = shamir.split([a, b], list(range(1, 11)), 6)
    for secret, shares in zip((a, b), both, strict=True):
        contexts, commitments = _commit_all(shares)
        assert (
            shamir.combine(
                shares[4:], threshold=6, secret_len=32, contexts=contexts, commitments=commitments
            )
            == secret
        )
