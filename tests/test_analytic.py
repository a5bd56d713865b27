"""Tests for sim.analytic: textbook values, independent re-derivations and property tests.

Reference values are computed here by *different* routes than the module uses (direct factorial
sums, Poisson pmf/cdf ratios, linear-algebra solutions of the generator, matrix exponentials of
absorbing chains), so an error in the module's algebra cannot cancel out.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from scipy.linalg import expm

from chirpdesk.sim.analytic import (
    ErlangAResult,
    agents_from_slots,
    effective_service_rate,
    erlang_a,
    erlang_b,
    erlang_c,
    exponential_survival,
    infinite_server_offered_load,
    littles_law_L,
    mmc_mean_wait,
    mmc_service_level,
    mmc_utilisation,
    mmc_wait_quantile,
    mol_staffing,
    required_agents,
    required_agents_for_intervals,
)

# ---------------------------------------------------------------------------------------------
# independent reference implementations
# ---------------------------------------------------------------------------------------------


def ref_erlang_b(c: int, a: float) -> float:
    """Closed form a^c/c! / sum_k a^k/k! with exact factorials (small c only)."""
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


def ref_erlang_c(c: int, a: float) -> float:
    """Textbook closed form of Erlang C with factorials (small c only)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def ref_erlang_b_poisson(c: int, a: float) -> float:
    """Erlang B as the truncated-Poisson ratio pmf(c) / cdf(c) -- works for large c near a."""
    return float(stats.poisson.pmf(c, a) / stats.poisson.cdf(c, a))


def ref_erlang_a_chain(lam: float, mu: float, theta: float, c: int, n_max: int) -> np.ndarray:
    """Stationary distribution of the truncated M/M/c+M chain by solving pi Q = 0 directly."""
    n = n_max + 1
    q = np.zeros((n, n))
    for i in range(n):
        if i + 1 < n:
            q[i, i + 1] = lam
        if i > 0:
            q[i, i - 1] = min(i, c) * mu + max(i - c, 0) * theta
        q[i, i] = -q[i].sum()
    a_mat = np.vstack([q.T, np.ones(n)])
    rhs = np.zeros(n + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a_mat, rhs, rcond=None)
    return pi


def ref_answered_by(k_max: int, cmu: float, theta: float, t: float, patience: float) -> np.ndarray:
    """P(served by t) for arrivals with k = 0..k_max queued ahead, by expm of an absorbing chain.

    Transient state i = number of customers still ahead (0..k_max).  From i the position drops
    (or the customer is served when i = 0) at rate c mu + i theta; the customer itself abandons
    at rate `patience` (pass 0 for the offered wait of an infinitely patient customer).  Row k
    of expm(Q t) is the customer who arrived with k ahead.
    """
    served, abandoned = k_max + 1, k_max + 2
    q = np.zeros((k_max + 3, k_max + 3))
    for ahead in range(k_max + 1):
        q[ahead, ahead - 1 if ahead > 0 else served] += cmu + ahead * theta
        q[ahead, abandoned] += patience
        q[ahead, ahead] = -q[ahead].sum()
    return expm(q * t)[: k_max + 1, served]


# ---------------------------------------------------------------------------------------------
# Erlang B / C
# ---------------------------------------------------------------------------------------------


def test_erlang_c_textbook_value() -> None:
    assert erlang_c(10, 9) == pytest.approx(0.6687, abs=5e-5)
    assert erlang_b(10, 9) == pytest.approx(0.1680, abs=5e-5)


@pytest.mark.parametrize("c", [1, 2, 3, 5, 8, 13, 21, 30])
@pytest.mark.parametrize("frac", [0.05, 0.5, 0.8, 0.95, 0.999])
def test_erlang_b_c_match_factorial_sums(c: int, frac: float) -> None:
    a = frac * c
    assert erlang_b(c, a) == pytest.approx(ref_erlang_b(c, a), rel=1e-12)
    assert erlang_c(c, a) == pytest.approx(ref_erlang_c(c, a), rel=1e-10)


@pytest.mark.parametrize(("c", "a"), [(100, 95.0), (500, 480.0), (1500, 1400.0), (2000, 1500.0),
                                      (2000, 1990.0), (1000, 1500.0)])
def test_erlang_b_large_c_matches_poisson_ratio(c: int, a: float) -> None:
    assert erlang_b(c, a) == pytest.approx(ref_erlang_b_poisson(c, a), rel=1e-9)


def test_large_c_stability() -> None:
    for c, a in [(1500, 1400.0), (2000, 1500.0), (2000, 1999.9), (2000, 1.0)]:
        p = erlang_c(c, a)
        assert math.isfinite(p) and 0.0 <= p <= 1.0
        assert erlang_b(c, a) <= p
    # c=1500, a=1400: a sqrt-staffing beta of ~2.6 gives a small but clearly nonzero P(wait).
    assert 1e-4 < erlang_c(1500, 1400.0) < 1e-2


def test_edge_cases_and_unstable_limits() -> None:
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(5, 0.0) == 0.0
    assert erlang_c(5, 0.0) == 0.0
    for c, a in [(5, 5.0), (5, 7.0), (0, 0.0)]:
        assert erlang_c(c, a) == 1.0
    lam, mu, c = 6.0, 1.0, 5
    assert mmc_mean_wait(lam, mu, c) == math.inf
    assert mmc_service_level(lam, mu, c, 100.0) == 0.0
    assert mmc_wait_quantile(lam, mu, c, 0.5) == math.inf
    assert mmc_utilisation(lam, mu, c) == 1.0
    assert mmc_service_level(0.0, mu, 0, 0.0) == 1.0
    assert mmc_mean_wait(0.0, mu, 3) == 0.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_invalid_inputs_raise(bad: float) -> None:
    with pytest.raises(ValueError):
        erlang_c(5, bad)
    with pytest.raises(ValueError):
        mmc_mean_wait(bad, 1.0, 3)
    with pytest.raises(ValueError):
        erlang_a(1.0, 1.0, bad, 3)
    with pytest.raises(ValueError):
        erlang_b(2.5, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        required_agents(1.0, 1.0, 1.0, 10.0)  # 100 % is not achievable


def test_mmc_mean_wait_matches_little_on_direct_distribution() -> None:
    lam, mu, c = 4.2, 0.5, 10
    a = lam / mu
    # pi_n up to a long truncation, computed with factorials; Lq = sum (n-c) pi_n.
    n = np.arange(0, 400)
    log_p = np.where(
        n <= c,
        n * math.log(a) - np.array([math.lgamma(k + 1) for k in n]),
        c * math.log(a) - math.lgamma(c + 1) + (n - c) * math.log(a / c),
    )
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    lq = float(np.sum(np.maximum(n - c, 0) * p))
    assert littles_law_L(lam, mmc_mean_wait(lam, mu, c)) == pytest.approx(lq, rel=1e-10)
    assert erlang_c(c, a) == pytest.approx(float(p[c:].sum()), rel=1e-10)
    assert mmc_utilisation(lam, mu, c) == pytest.approx(0.84)


def test_mmc_service_level_and_quantile_are_inverse() -> None:
    lam, mu, c = 9.0, 1.0, 10
    p_wait = erlang_c(c, lam / mu)
    assert mmc_service_level(lam, mu, c, 0.0) == pytest.approx(1 - p_wait)
    assert mmc_wait_quantile(lam, mu, c, 0.2) == 0.0  # on the no-wait atom
    for q in [0.4, 0.8, 0.95, 0.999]:
        t = mmc_wait_quantile(lam, mu, c, q)
        assert mmc_service_level(lam, mu, c, t) == pytest.approx(q, abs=1e-12)
    assert mmc_wait_quantile(lam, mu, c, 1.0) == math.inf
    # Mean wait is the integral of the complementary wait CDF.
    area, _ = integrate.quad(lambda t: 1 - mmc_service_level(lam, mu, c, t), 0, math.inf)
    assert area == pytest.approx(mmc_mean_wait(lam, mu, c), rel=1e-8)


# ---------------------------------------------------------------------------------------------
# Erlang A
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lam", "mu", "c"), [(9.0, 1.0, 10), (0.9, 0.01, 100), (3.0, 1.0, 4)])
def test_erlang_a_tiny_theta_equals_erlang_c(lam: float, mu: float, c: int) -> None:
    res = erlang_a(lam, mu, 1e-10 * mu, c)
    a = lam / mu
    assert res.p_wait == pytest.approx(erlang_c(c, a), rel=1e-6)
    assert res.p_abandon < 1e-6
    assert res.mean_wait == pytest.approx(mmc_mean_wait(lam, mu, c), rel=1e-6)
    assert res.mean_wait_served == pytest.approx(mmc_mean_wait(lam, mu, c), rel=1e-6)
    for t in [0.0, 0.1 / mu, 1 / mu, 5 / mu]:
        sl = mmc_service_level(lam, mu, c, t)
        assert res.service_level(t) == pytest.approx(sl, abs=1e-6)
        assert res.offered_wait_cdf(t) == pytest.approx(sl, abs=1e-6)


def test_erlang_a_theta_zero_is_erlang_c_and_unstable_limits() -> None:
    res = erlang_a(9.0, 1.0, 0.0, 10)
    assert res.p_wait == erlang_c(10, 9.0)
    assert res.service_level(0.3) == mmc_service_level(9.0, 1.0, 10, 0.3)
    bad = erlang_a(11.0, 1.0, 0.0, 10)
    assert (bad.p_wait, bad.mean_wait, bad.service_level(5.0)) == (1.0, math.inf, 0.0)


@pytest.mark.parametrize(
    ("lam", "mu", "theta", "c"),
    [(12.0, 1.0, 0.5, 10), (8.0, 1.0, 2.0, 10), (5.0, 1.0, 0.05, 4), (2.0, 1.0, 1.0, 1),
     (30.0, 0.5, 0.2, 50)],
)
def test_erlang_a_matches_direct_chain_solution(lam: float, mu: float, theta: float, c: int) -> None:
    res = erlang_a(lam, mu, theta, c)
    pi = ref_erlang_a_chain(lam, mu, theta, c, n_max=c + 400)
    queue = np.maximum(np.arange(pi.size) - c, 0)
    eq = float(queue @ pi)
    assert res.p_wait == pytest.approx(float(pi[c:].sum()), rel=1e-8)
    assert res.mean_queue_length == pytest.approx(eq, rel=1e-8)
    # Little on the queue: abandonment flow theta E[Q] = lam P(ab); mean wait = E[Q] / lam.
    assert res.p_abandon == pytest.approx(theta * eq / lam, rel=1e-8)
    assert res.mean_wait == pytest.approx(eq / lam, rel=1e-8)
    # Served flow keeps c mu * (mean busy servers / c) in balance.
    busy = float(np.minimum(np.arange(pi.size), c) @ pi)
    assert res.utilisation == pytest.approx(busy / c, rel=1e-8)
    assert lam * (1 - res.p_abandon) == pytest.approx(mu * busy, rel=1e-8)


@pytest.mark.parametrize(
    ("lam", "mu", "theta", "c"),
    # the last case has theta t up to 150: 1 - exp(-theta t) rounds to 1.0 in floating point
    [(12.0, 1.0, 0.5, 10), (5.0, 1.0, 0.3, 5), (9.0, 1.0, 50.0, 10)],
)
def test_erlang_a_wait_distribution_matches_matrix_exponential(
    lam: float, mu: float, theta: float, c: int
) -> None:
    res = erlang_a(lam, mu, theta, c)
    pi = ref_erlang_a_chain(lam, mu, theta, c, n_max=c + 120)
    cmu = c * mu
    for t in [0.05, 0.3, 1.0, 3.0]:
        p_free = float(pi[:c].sum())
        queued = pi[c:]
        k_max = queued.size - 1
        answered = p_free + queued @ ref_answered_by(k_max, cmu, theta, t, patience=theta)
        offered = p_free + queued @ ref_answered_by(k_max, cmu, theta, t, patience=0.0)
        assert res.service_level(t) == pytest.approx(answered, abs=1e-9)
        assert res.offered_wait_cdf(t) == pytest.approx(offered, abs=1e-9)
    assert res.service_level(1e6) == pytest.approx(1 - res.p_abandon, abs=1e-12)
    assert res.offered_wait_cdf(1e6) == pytest.approx(1.0, abs=1e-12)
    # E[wait ; served] = integral of (P(served) - P(served by t)).
    p_served = 1 - res.p_abandon
    area, _ = integrate.quad(lambda t: p_served - res.service_level(t), 0, math.inf, limit=200)
    assert res.mean_wait_served == pytest.approx(area / p_served, rel=1e-6)


def test_erlang_a_large_and_edge_cases() -> None:
    # 1500-Erlang desk, 5-minute handle time, 10-minute mean patience, slightly understaffed.
    res = erlang_a(1500 / 300, 1 / 300, 1 / 600, 1450)
    assert 0.9 < res.p_wait <= 1.0 and 0.0 < res.p_abandon < 0.1
    assert 0.0 <= res.service_level(60.0) <= res.offered_wait_cdf(60.0) <= 1.0
    res = erlang_a(1400 / 300, 1 / 300, 1 / 600, 2000)
    assert res.p_wait < 1e-12 and res.service_level(0.0) == pytest.approx(1.0)
    nobody = erlang_a(2.0, 1.0, 1.0, 0)
    assert (nobody.p_wait, nobody.p_abandon, nobody.service_level(10.0)) == (1.0, 1.0, 0.0)
    idle = erlang_a(0.0, 1.0, 1.0, 3)
    assert (idle.p_wait, idle.service_level(0.0)) == (0.0, 1.0)
    assert isinstance(idle, ErlangAResult)
    with pytest.raises(AttributeError):
        idle.p_wait = 0.5  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# staffing
# ---------------------------------------------------------------------------------------------

STAFFING_CASES = [
    # lam (/s), mu (/s), target fraction, target time (s), theta, max_abandon
    (9.0, 1.0, 0.8, 0.2, None, None),
    (1500 / 300, 1 / 300, 0.8, 20.0, None, None),
    (1500 / 300, 1 / 300, 0.8, 20.0, 1 / 600, None),
    (1500 / 300, 1 / 300, 0.8, 20.0, 1 / 600, 0.005),
    (0.05, 1 / 240, 0.9, 900.0, 1 / 1800, None),
    (0.05, 1 / 240, 0.9, 900.0, 1 / 1800, 0.001),
    (0.5, 1 / 600, 0.95, 60.0, 0.0, None),
]


@pytest.mark.parametrize(("lam", "mu", "frac", "t", "theta", "max_ab"), STAFFING_CASES)
def test_required_agents_is_minimal(
    lam: float, mu: float, frac: float, t: float, theta: float | None, max_ab: float | None
) -> None:
    c = required_agents(lam, mu, frac, t, theta=theta, max_abandon=max_ab)

    def meets(n: int) -> bool:
        if not theta:
            return mmc_service_level(lam, mu, n, t) >= frac
        r = erlang_a(lam, mu, theta, n)
        return r.service_level(t) >= frac and (max_ab is None or r.p_abandon <= max_ab)

    assert meets(c)
    assert not meets(c - 1)


def test_required_agents_constraints() -> None:
    lam, mu = 1500 / 300, 1 / 300
    base = required_agents(lam, mu, 0.8, 20.0)
    assert base > 1500  # no abandonment: must exceed the offered load
    assert required_agents(lam, mu, 0.8, 20.0, theta=1 / 600) < base
    guarded = required_agents(lam, mu, 0.5, 3600.0, max_occupancy=0.85)
    assert guarded == math.ceil(1500 / 0.85)
    assert required_agents(0.0, mu, 0.8, 20.0) == 0
    assert required_agents(0.0, mu, 0.8, 20.0, min_agents=1) == 1
    assert required_agents(1e-6, mu, 0.8, 20.0, min_agents=3) == 3
    with pytest.raises(ValueError):
        required_agents(lam, mu, 0.8, 20.0, theta=1 / 600, max_abandon=0.0)
    # A target right at the edge of double precision is still found (or cleanly refused).
    assert required_agents(9.0, 1.0, 1 - 1e-12, 1.0) > 9


def test_required_agents_for_intervals() -> None:
    rates = [0.0, 0.01, 0.05, 0.05, 0.2, 0.01]
    out = required_agents_for_intervals(rates, 1 / 300, 0.8, 60.0, theta=1 / 900)
    assert out.dtype == np.int64 and out.shape == (6,)
    expected = [required_agents(r, 1 / 300, 0.8, 60.0, theta=1 / 900) for r in rates]
    assert out.tolist() == expected
    assert np.all(np.diff(out[1:5]) >= 0)
    with pytest.raises(ValueError):
        required_agents_for_intervals([[1.0]], 1.0, 0.8, 1.0)


# ---------------------------------------------------------------------------------------------
# concurrency and Little
# ---------------------------------------------------------------------------------------------


def test_concurrency_helpers() -> None:
    mu = 1 / 300
    assert effective_service_rate(mu, 1, 0.7) == mu
    assert effective_service_rate(mu, 3, 0.0) == mu
    assert effective_service_rate(mu, 3, 0.25) == pytest.approx(mu / 1.5)
    # slowdown 1: three slots together deliver exactly one agent's worth of throughput
    assert 3 * effective_service_rate(mu, 3, 1.0) == pytest.approx(mu)
    assert agents_from_slots(0, 3) == 0
    assert agents_from_slots(7, 3) == 3
    assert agents_from_slots(9, 3) == 3
    assert agents_from_slots(np.array([0, 1, 3, 4]), 3).tolist() == [0, 1, 1, 2]
    with pytest.raises(ValueError):
        effective_service_rate(mu, 0, 0.1)
    with pytest.raises(ValueError):
        agents_from_slots(-1, 2)


def test_littles_law() -> None:
    assert littles_law_L(2.0, 3.5) == 7.0
    assert littles_law_L(0.0, math.inf) == 0.0
    assert littles_law_L(1.0, math.inf) == math.inf


# ---------------------------------------------------------------------------------------------
# modified offered load
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("survival", "rtol"), [
    (exponential_survival(600.0), 1e-6),
    (stats.lognorm(0.8, scale=600.0 * math.exp(-0.32)).sf, 1e-4),  # mean 600 s
    # Deterministic 600 s: the jump of S is resolved only to one quadrature step (900/32 s).
    (lambda x: np.where(np.asarray(x) < 600.0, 1.0, 0.0), 900 / 32 / 600),
])
def test_mol_constant_rate_gives_lam_mean_service(
    survival: Callable[[np.ndarray], np.ndarray], rtol: float
) -> None:
    rates = np.full(96, 0.2)
    m = infinite_server_offered_load(rates, 900.0, survival, periodic=True)
    np.testing.assert_allclose(m, 0.2 * 600.0, rtol=rtol)


def test_mol_non_periodic_starts_empty() -> None:
    # Exponential service from an empty start: m(t) = lam tau (1 - exp(-t/tau)); compare the
    # interval averages of that curve.
    tau, dt, lam = 600.0, 60.0, 0.3
    m = infinite_server_offered_load(np.full(60, lam), dt, exponential_survival(tau),
                                     periodic=False)
    edges = np.arange(61) * dt
    exact = lam * tau * (1 - tau / dt * np.diff(-np.exp(-edges / tau)))
    np.testing.assert_allclose(m, exact, rtol=1e-8)


@pytest.mark.parametrize("tau", [3600.0, 4 * 3600.0])
def test_mol_sinusoid_is_damped_and_lagged(tau: float) -> None:
    day, dt = 86400.0, 120.0
    omega = 2 * math.pi / day
    mean_rate, amp = 0.05, 0.04
    n = int(day / dt)
    mid = (np.arange(n) + 0.5) * dt
    # Feed interval averages of lam(t) = mean + amp sin(omega t): they are mean + amp*s*sin(.)
    # at the midpoints with s = sinc factor of averaging over dt.
    s = math.sin(omega * dt / 2) / (omega * dt / 2)
    rates = mean_rate + amp * s * np.sin(omega * mid)
    m = infinite_server_offered_load(rates, dt, exponential_survival(tau), periodic=True)
    # Fundamental Fourier component of m at the midpoints.
    coef = 2 * np.sum(m * np.exp(-1j * omega * mid)) / n
    amplitude, phase = abs(coef), -(np.angle(coef * 1j))  # coef = -i A e^{-i lag omega}
    psa_amplitude = amp * s * tau  # pointwise-stationary lam(t) E[S]
    factor = 1 / math.sqrt(1 + (omega * tau) ** 2)
    lag = math.atan(omega * tau) / omega
    assert np.mean(m) == pytest.approx(mean_rate * tau, rel=1e-6)
    # Interval averaging of m adds one more sinc factor s.
    assert amplitude == pytest.approx(psa_amplitude * factor * s, rel=1e-4)
    assert phase / omega == pytest.approx(lag, abs=1.0)  # seconds
    # The MOL peak is lower than the PSA peak and comes about `lag` later.
    assert m.max() < (mean_rate + amp * s) * tau
    peak_shift = (mid[np.argmax(m)] - mid[np.argmax(rates)]) % day
    assert peak_shift == pytest.approx(lag, abs=dt)


def test_mol_staffing_constant_and_lagged() -> None:
    tau = 600.0
    flat = mol_staffing(np.full(48, 0.1), 1800.0, exponential_survival(tau), 0.8, 60.0)
    assert set(flat.tolist()) == {required_agents(0.1, 1 / tau, 0.8, 60.0)}
    day, dt = 86400.0, 900.0
    t = (np.arange(96) + 0.5) * dt
    rates = 0.05 + 0.04 * np.sin(2 * math.pi * t / day)
    staff = mol_staffing(rates, dt, exponential_survival(2 * 3600.0), 0.8, 60.0, theta=1 / 900)
    psa = required_agents_for_intervals(rates, 1 / 7200.0, 0.8, 60.0, theta=1 / 900)
    assert staff.max() < psa.max()
    assert np.argmax(staff) > np.argmax(psa)


# ---------------------------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(c=st.integers(0, 300), a=st.floats(0, 400, allow_nan=False))
def test_erlang_b_c_properties(c: int, a: float) -> None:
    b, cc = erlang_b(c, a), erlang_c(c, a)
    assert 0.0 <= b <= cc <= 1.0
    assert erlang_b(c + 1, a) <= b
    assert erlang_c(c + 1, a) <= cc


@settings(max_examples=60, deadline=None)
@given(
    lam=st.floats(0.01, 20),
    mu=st.floats(0.1, 2),
    theta=st.floats(0.001, 5),
    c=st.integers(1, 40),
    t=st.floats(0, 10),
)
def test_erlang_a_properties(lam: float, mu: float, theta: float, c: int, t: float) -> None:
    r = erlang_a(lam, mu, theta, c)
    r_more = erlang_a(lam, mu, theta, c + 1)
    for p in (r.p_wait, r.p_abandon, r.utilisation, r.service_level(t), r.offered_wait_cdf(t)):
        assert 0.0 <= p <= 1.0
    assert r.p_abandon <= r.p_wait + 1e-12
    assert r.service_level(t) <= r.offered_wait_cdf(t) + 1e-12
    assert r.service_level(t) <= r.service_level(t + 1.0) + 1e-12
    assert r_more.service_level(t) >= r.service_level(t) - 1e-12
    assert r_more.p_abandon <= r.p_abandon + 1e-12
    assert r.mean_wait >= 0 and r.mean_wait_served >= 0


@settings(max_examples=100, deadline=None)
@given(lam=st.floats(0.01, 50), mu=st.floats(0.05, 2), c=st.integers(1, 100),
       t=st.floats(0, 20))
def test_mmc_service_level_monotone(lam: float, mu: float, c: int, t: float) -> None:
    sl = mmc_service_level(lam, mu, c, t)
    assert 0.0 <= sl <= 1.0
    assert mmc_service_level(lam, mu, c, t + 0.5) >= sl
    assert mmc_service_level(lam, mu, c + 1, t) >= sl
