"""Closed-form and numerically exact queueing formulas for staffing a social-care desk.

Everything here is a pure function of its arguments: no simpy, no I/O, no randomness. The
simulation uses these as a cross-check and the staffing planner uses them directly.

Units
-----
The functions are unit-agnostic: rates and times only have to use the *same* time unit. The
project convention is **rates per second and times in seconds** (``lam`` tweets/s, ``mu``
conversations/s per agent slot, ``theta`` abandonments/s per waiting customer, targets in s).
Offered load ``a = lam / mu`` is in Erlangs (average number of busy servers needed).

Models
------
* **M/M/c (Erlang B / Erlang C)** -- Poisson arrivals, exponential handling, ``c`` agent slots,
  infinitely patient customers.  When the system is unstable (``a >= c``) the functions return
  the limiting values instead of raising: P(wait) = 1, mean wait = inf, service level = 0.
* **M/M/c+M (Erlang A, Palm 1943; Mandelbaum & Zeltyn 2007)** -- as above, plus exponential
  patience with rate ``theta``.  Solved exactly on the birth-death chain, truncated where the
  neglected tail probability is below 1e-12; the offered-wait distribution uses the closed form
  via the regularised incomplete beta function.
* **Staffing** -- smallest head count meeting a service-level (and optionally abandonment and
  occupancy) target, for one interval or a vector of intervals.
* **Concurrency** -- an agent juggling ``k`` conversations is modelled as ``k`` slots, each slowed
  down by ``1 + slowdown * (k - 1)``.
* **Modified offered load (MOL, Jennings, Mandelbaum, Massey & Whitt 1996)** -- the offered load
  of the infinite-server queue for a time-varying arrival rate, used in place of ``lam / mu`` so
  that staffing leads the arrival peak by the right lag.

Numerical stability: Erlang B uses the forward recursion ``B(k) = a B(k-1) / (k + a B(k-1))``,
whose iterates stay in [0, 1] (no factorials, no overflow), so ``c`` in the thousands and loads
of ~1500 Erlangs are fine.  Erlang A works with log-probabilities normalised by ``logsumexp``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import numpy.typing as npt
from scipy.special import betainc, betaincc, gammaln, logsumexp

__all__ = [
    "ErlangAResult",
    "agents_from_slots",
    "effective_service_rate",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "exponential_survival",
    "infinite_server_offered_load",
    "littles_law_L",
    "mmc_mean_wait",
    "mmc_service_level",
    "mmc_utilisation",
    "mmc_wait_quantile",
    "mol_staffing",
    "required_agents",
    "required_agents_for_intervals",
]

#: Probability mass the Erlang A chain truncation is allowed to drop.
TAIL_TOLERANCE = 1e-12

#: Hard cap on the number of queue states in the Erlang A chain (memory guard: a few arrays of
#: this length are held).  Only reached when patience is extremely long *and* the system is
#: heavily overloaded, i.e. the mean queue is in the millions.
MAX_QUEUE_STATES = 2_000_000

#: Safety stop for the staffing search beyond the offered load.
MAX_AGENTS_SEARCH = 10_000_000

FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def _check_rate(name: str, value: float, *, positive: bool = False) -> float:
    x = float(value)
    if math.isnan(x) or math.isinf(x) or x < 0 or (positive and x == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {need}, got {value!r}")
    return x


def _check_count(name: str, value: int) -> int:
    # Accept numpy integers and integral floats (e.g. 10.0 from a config file); reject 10.5.
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}") from None
    if n != value or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return n


def _check_fraction(name: str, value: float, *, open_upper: bool = False) -> float:
    x = float(value)
    if math.isnan(x) or x < 0 or x > 1 or (open_upper and x >= 1):
        upper = "< 1" if open_upper else "<= 1"
        raise ValueError(f"{name} must be in [0, 1] and {upper}, got {value!r}")
    return x


def _check_rate_array(values: Sequence[float] | npt.ArrayLike) -> FloatArray:
    lam = np.asarray(values, dtype=float)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError("arrival_rates must be a non-empty 1-D sequence")
    if np.any(~np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("arrival_rates must be finite and >= 0")
    return lam


def _check_time(name: str, value: float) -> float:
    x = float(value)
    if math.isnan(x) or x < 0:
        raise ValueError(f"{name} must be a time >= 0, got {value!r}")
    return x


# --------------------------------------------------------------------------------------------
# Erlang B / C  (M/M/c/c and M/M/c)
# --------------------------------------------------------------------------------------------


def erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability of the M/M/c/c loss system.

    Args:
        c: number of servers (agent slots), integer >= 0.
        a: offered load in Erlangs (``lam / mu``), >= 0.

    Returns:
        Probability that an arriving customer finds all ``c`` servers busy (and is lost), in
        [0, 1].  ``erlang_b(0, a) == 1`` for any ``a``; ``erlang_b(c, 0) == 0`` for ``c >= 1``.

    Uses the recursion ``B(k) = a B(k-1) / (k + a B(k-1))``, ``B(0) = 1``: every iterate is a
    probability, so it is stable for any ``c`` (O(c) time, ~0.2 ms for c = 2000).
    """
    c = _check_count("c", c)
    a = _check_rate("a", a)
    b = 1.0
    for k in range(1, c + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival has to wait in the M/M/c queue.

    Args:
        c: number of servers (agent slots), integer >= 0.
        a: offered load in Erlangs (``lam / mu``), >= 0.

    Returns:
        P(wait > 0) in [0, 1].  For an unstable system (``a >= c``) the queue grows without
        bound and every arrival waits, so 1.0 is returned (no exception).
    """
    c = _check_count("c", c)
    a = _check_rate("a", a)
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    rho = a / c
    # C = B / (1 - rho (1 - B)); the denominator is >= 1 - rho > 0 so no cancellation blow-up.
    return min(1.0, b / (1.0 - rho * (1.0 - b)))


def mmc_utilisation(lam: float, mu: float, c: int) -> float:
    """Long-run fraction of time each of the ``c`` servers is busy in the M/M/c queue.

    Args:
        lam: arrival rate (per unit time, e.g. per second).
        mu: service rate of one server (same unit).
        c: number of servers.

    Returns:
        ``lam / (c mu)`` capped at 1.0 (an unstable system keeps every server busy); 0.0 when
        ``lam == 0`` or ``c == 0`` (no servers to be busy).
    """
    lam = _check_rate("lam", lam)
    mu = _check_rate("mu", mu, positive=True)
    c = _check_count("c", c)
    if lam == 0 or c == 0:
        return 0.0
    return min(1.0, lam / (c * mu))


def mmc_mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean time in queue Wq of the M/M/c queue, averaged over all arrivals.

    Args:
        lam: arrival rate (per second by project convention).
        mu: service rate of one server (same unit).
        c: number of servers.

    Returns:
        ``C(c, a) / (c mu - lam)`` in the time unit of the rates (seconds); ``inf`` when unstable
        (``lam >= c mu``), 0.0 when ``lam == 0``.
    """
    lam = _check_rate("lam", lam)
    mu = _check_rate("mu", mu, positive=True)
    c = _check_count("c", c)
    if lam == 0:
        return 0.0
    a = lam / mu
    if a >= c:
        return math.inf
    return erlang_c(c, a) / (c * mu - lam)


def mmc_service_level(lam: float, mu: float, c: int, t: float) -> float:
    """Service level of the M/M/c queue: P(W <= t) = 1 - C exp(-(c mu - lam) t).

    Args:
        lam: arrival rate (per second by project convention).
        mu: service rate of one server (same unit).
        c: number of servers.
        t: target answer time, >= 0 (seconds).

    Returns:
        Probability that an arrival's wait in queue is at most ``t``, in [0, 1].  0.0 when the
        system is unstable (``lam >= c mu``) and ``lam > 0``; 1.0 when ``lam == 0``.
    """
    lam = _check_rate("lam", lam)
    mu = _check_rate("mu", mu, positive=True)
    c = _check_count("c", c)
    t = _check_time("t", t)
    if lam == 0:
        return 1.0
    a = lam / mu
    if a >= c:
        return 0.0
    return max(0.0, 1.0 - erlang_c(c, a) * math.exp(-(c * mu - lam) * t))


def mmc_wait_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """The ``q``-quantile of the wait in queue of the M/M/c queue.

    Args:
        lam: arrival rate (per second by project convention).
        mu: service rate of one server (same unit).
        c: number of servers.
        q: probability level in [0, 1].

    Returns:
        The smallest ``t >= 0`` with P(W <= t) >= q, in the time unit of the rates.  This is
        0.0 when ``q <= 1 - C`` (the quantile falls on the no-wait atom) and
        ``ln(C / (1 - q)) / (c mu - lam)`` otherwise; ``inf`` for ``q == 1`` (if anyone waits) or
        for an unstable system with ``q > 0``.
    """
    lam = _check_rate("lam", lam)
    mu = _check_rate("mu", mu, positive=True)
    c = _check_count("c", c)
    q = _check_fraction("q", q)
    if lam == 0 or q == 0:
        return 0.0
    a = lam / mu
    if a >= c:
        return math.inf
    p_wait = erlang_c(c, a)
    if q <= 1.0 - p_wait:
        return 0.0
    if q >= 1.0:
        return math.inf
    return math.log(p_wait / (1.0 - q)) / (c * mu - lam)


# --------------------------------------------------------------------------------------------
# Erlang A  (M/M/c+M)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErlangAResult:
    """Steady state of the M/M/c+M (Erlang A) queue, as seen by an arriving customer (PASTA).

    Rates and times share one unit (seconds by project convention).

    Attributes:
        lam, mu, theta, c: the model inputs (arrival rate, per-server service rate, per-customer
            abandonment rate = 1 / mean patience, number of servers).
        p_wait: P(an arrival finds all servers busy), i.e. P(wait > 0).
        p_abandon: P(an arrival abandons before being served).
        mean_wait: E[time in queue] over *all* arrivals, counting the time abandoners spent
            waiting (= E[queue length] / lam by Little's law).
        mean_wait_served: E[time in queue | served]; inf if nobody is ever served.
        mean_queue_length: E[number waiting].
        utilisation: fraction of time each server is busy = lam (1 - p_abandon) / (c mu);
            0.0 when ``c == 0``.

    ``theta == 0`` is the Erlang C model; if that is unstable the limits are reported
    (p_wait = 1, mean waits = inf, service level 0, p_abandon = 0) instead of raising.
    """

    lam: float
    mu: float
    theta: float
    c: int
    p_wait: float
    p_abandon: float
    mean_wait: float
    mean_wait_served: float
    mean_queue_length: float
    utilisation: float
    # Probability that an arrival finds exactly k customers already queued (n = c + k in the
    # system), k = 0..K.  Empty when theta == 0 (closed forms are used instead).
    _queue_probs: FloatArray = field(repr=False, compare=False)

    def offered_wait_cdf(self, t: float) -> float:
        """P(V <= t) for the *offered* (virtual) wait V: the wait of an infinitely patient arrival.

        Args:
            t: time >= 0 (same unit as the rates).

        Returns:
            Probability in [0, 1].  Tends to Erlang C's ``1 - C exp(-(c mu - lam) t)`` as
            theta -> 0.  Conditional on ``k`` customers queued ahead, V is hypoexponential with
            rates ``c mu + j theta``, j = 0..k, whose CDF is ``I_{1 - exp(-theta t)}(k + 1,
            c mu / theta)`` (regularised incomplete beta; Mandelbaum & Zeltyn 2007).
        """
        t = _check_time("t", t)
        if self.lam == 0:
            return 1.0
        if self.c == 0:
            return 0.0  # nobody is ever served
        if self.theta == 0:
            if self.lam >= self.c * self.mu:
                return 0.0
            return max(0.0, 1.0 - self.p_wait * math.exp(-(self.c * self.mu - self.lam) * t))
        return min(1.0, (1.0 - self.p_wait) + self._queued_mass(t, served_only=False))

    def service_level(self, t: float) -> float:
        """P(served *and* wait <= t) over all arrivals -- abandonments count as misses.

        This is the conservative "answered within t" service level used for staffing: an
        arrival counts as a success only if an agent picks it up no later than ``t`` after it
        arrived.  Customers who abandon (at any time) are failures, so
        ``service_level(inf) == 1 - p_abandon``.

        Args:
            t: target answer time >= 0 (same unit as the rates).

        Returns:
            Probability in [0, 1]; nondecreasing in ``t``.  Equals Erlang C's P(W <= t) when
            theta == 0.
        """
        t = _check_time("t", t)
        if self.theta == 0 or self.lam == 0 or self.c == 0:
            return self.offered_wait_cdf(t)
        return min(1.0, (1.0 - self.p_wait) + self._queued_mass(t, served_only=True))

    def _queued_mass(self, t: float, *, served_only: bool) -> float:
        """Sum over queued states k of P(k ahead) * P(V_k <= t [and served])."""
        q = self._queue_probs
        if q.size == 0 or t == 0:
            return 0.0
        k1 = np.arange(1, q.size + 1, dtype=float)  # k + 1 exponential phases to get served
        cmu = self.c * self.mu
        ratio = cmu / self.theta
        # E[1{V <= t} exp(-theta V)] for the served-only case: multiplying the hypoexponential
        # density prod(r_j) / (k! theta^k) e^{-cmu v} (1 - e^{-theta v})^k by the patience
        # survival e^{-theta v} gives the same family shifted by one rate, scaled by
        # cmu / (cmu + (k+1) theta) = P(served | k ahead).
        b = ratio + 1.0 if served_only else ratio
        cdf = _hypoexp_cdf(k1, b, self.theta * t)
        if served_only:
            cdf = cdf * (cmu / (cmu + k1 * self.theta))
        return float(min(1.0, np.dot(q, cdf)))


def _hypoexp_cdf(k1: FloatArray, b: float, theta_t: float) -> FloatArray:
    """I_x(k1, b) with x = 1 - exp(-theta t), evaluated without losing either tail.

    For small theta t the argument x comes from expm1 (exact); once x >= 1/2 we switch to the
    complement form 1 - I_x(k1, b) = I_y(b, k1), y = exp(-theta t), because x itself would round
    to 1.0 for large theta t and wipe out a CDF that is still well below 1.
    """
    x = -math.expm1(-theta_t)
    if x < 0.5:
        return np.asarray(betainc(k1, b, x), dtype=float)
    return np.asarray(betaincc(b, k1, math.exp(-theta_t)), dtype=float)


def _log_birth_death_queue(lam: float, mu: float, theta: float, c: int) -> tuple[float, FloatArray]:
    """Unnormalised log-probabilities of the Erlang A chain.

    Returns ``(logsumexp of states 0..c-1, log pi_{c+k} for k = 0..K)`` relative to pi_0 = 1,
    with K chosen so that the neglected tail is below TAIL_TOLERANCE of the total mass.
    """
    a = lam / mu
    # States 0..c: pi_n = a^n / n!  (death rate n mu).
    n = np.arange(c + 1, dtype=float)
    log_low = n * math.log(a) - gammaln(n + 1.0)
    log_below_c = float(logsumexp(log_low[:-1])) if c > 0 else -math.inf
    log_pi_c = float(log_low[-1])

    # States c+j, j >= 1: pi_{c+j} = pi_{c+j-1} * lam / (c mu + j theta).  The ratio drops below 1
    # once j > j0 = (lam - c mu) / theta; after that the tail beyond J is bounded by the geometric
    # series pi_J r / (1 - r) with r the ratio at J + 1 (ratios keep decreasing).
    j0 = max(0.0, (lam - c * mu) / theta)
    size = int(min(MAX_QUEUE_STATES, max(64.0, 2.0 * j0 + 64.0)))
    log_lam = math.log(lam)
    while True:
        j = np.arange(1, size + 1, dtype=float)
        log_ratio = log_lam - np.log(c * mu + j * theta)
        log_q = np.concatenate(([log_pi_c], log_pi_c + np.cumsum(log_ratio)))
        log_total = float(np.logaddexp(log_below_c, logsumexp(log_q)))
        r_next = lam / (c * mu + (size + 1) * theta)
        if r_next < 1.0:
            log_tail = log_q[-1] + math.log(r_next) - math.log1p(-r_next)
            if log_tail - log_total < math.log(TAIL_TOLERANCE):
                break
        if size >= MAX_QUEUE_STATES:
            raise ValueError(
                f"Erlang A state space exceeds {MAX_QUEUE_STATES} queue states "
                f"(lam={lam}, mu={mu}, theta={theta}, c={c}): patience is so long relative to "
                "the overload that the queue holds millions of customers"
            )
        size = min(MAX_QUEUE_STATES, 2 * size)
    # Trim states that carry no representable mass so later sums stay short.
    keep = np.nonzero(log_q - log_total > -745.0)[0]
    last = int(keep[-1]) + 1 if keep.size else 1
    return log_below_c - log_total, log_q[:last] - log_total


def erlang_a(lam: float, mu: float, theta: float, c: int) -> ErlangAResult:
    """Solve the M/M/c+M (Erlang A) queue exactly on its birth-death chain.

    The number in system is a birth-death process with birth rate ``lam`` and death rate
    ``n mu`` for ``n <= c`` and ``c mu + (n - c) theta`` above (service plus abandonment of the
    ``n - c`` waiting customers).  The chain is truncated where the neglected stationary mass is
    below 1e-12.  Per-state quantities then follow in closed form: with ``k`` customers ahead an
    arrival is served with probability ``c mu / (c mu + (k+1) theta)`` and waits on average
    ``(k+1) / (c mu + (k+1) theta)`` (time until served or abandoned).

    Args:
        lam: arrival rate (per second by project convention), >= 0.
        mu: service rate of one server (same unit), > 0.
        theta: abandonment rate per waiting customer = 1 / mean patience (same unit), >= 0.
            ``theta == 0`` is Erlang C (closed forms; unstable -> limiting values, no raise).
        c: number of servers, integer >= 0.

    Returns:
        An :class:`ErlangAResult`; call ``.service_level(t)`` / ``.offered_wait_cdf(t)`` for
        wait-time probabilities.

    Raises:
        ValueError: on invalid inputs, or if the truncated chain would need more than
            ``MAX_QUEUE_STATES`` queue states (extremely small ``theta`` with overload).
    """
    lam = _check_rate("lam", lam)
    mu = _check_rate("mu", mu, positive=True)
    theta = _check_rate("theta", theta)
    c = _check_count("c", c)
    empty: FloatArray = np.zeros(0)
    empty.setflags(write=False)

    if lam == 0:
        return ErlangAResult(lam, mu, theta, c, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, empty)

    if theta == 0:
        a = lam / mu
        if a >= c:
            return ErlangAResult(
                lam, mu, theta, c, 1.0, 0.0, math.inf, math.inf, math.inf,
                mmc_utilisation(lam, mu, c), empty,
            )
        p_wait = erlang_c(c, a)
        wq = p_wait / (c * mu - lam)
        return ErlangAResult(lam, mu, theta, c, p_wait, 0.0, wq, wq, lam * wq, a / c, empty)

    log_p_free, log_q = _log_birth_death_queue(lam, mu, theta, c)
    q = np.exp(log_q)
    p_wait = float(min(1.0, q.sum()))
    # Renormalise the kept states to mass 1 overall so identities hold to rounding error.
    total = math.exp(log_p_free) + p_wait
    q = q / total
    p_wait = p_wait / total

    cmu = c * mu
    k1 = np.arange(1, q.size + 1, dtype=float)
    denom = cmu + k1 * theta
    p_served_k = cmu / denom
    p_abandon = float(np.clip(np.dot(q, 1.0 - p_served_k), 0.0, 1.0))
    # E[min(V, patience)] given k ahead = (1 - E[e^{-theta V}]) / theta = (k+1) / (cmu + (k+1) theta)
    mean_wait = float(np.dot(q, k1 / denom))
    # E[V e^{-theta V}] given k ahead = P(served | k) * sum_{i=1}^{k+1} 1 / (cmu + i theta)
    # (derivative of the hypoexponential Laplace transform at s = theta, which telescopes).
    harmonic = np.cumsum(1.0 / denom)
    served_wait = float(np.dot(q, p_served_k * harmonic))
    p_served = 1.0 - p_abandon
    mean_wait_served = served_wait / p_served if p_served > 0 else math.inf
    mean_queue = float(np.dot(q, k1 - 1.0))
    utilisation = min(1.0, lam * p_served / cmu) if c > 0 else 0.0
    q.setflags(write=False)
    return ErlangAResult(
        lam, mu, theta, c, p_wait, p_abandon, mean_wait, mean_wait_served, mean_queue,
        utilisation, q,
    )


# --------------------------------------------------------------------------------------------
# staffing
# --------------------------------------------------------------------------------------------


def _meets_target(
    lam: float,
    mu: float,
    c: int,
    target_fraction: float,
    target_time: float,
    theta: float,
    max_abandon: float | None,
    max_occupancy: float | None,
) -> bool:
    if max_occupancy is not None and lam > c * mu * max_occupancy:
        return False
    if theta == 0:
        return mmc_service_level(lam, mu, c, target_time) >= target_fraction
    try:
        res = erlang_a(lam, mu, theta, c)
    except ValueError:
        # Only raised when the chain needs > MAX_QUEUE_STATES queue states: the queue then holds
        # millions of customers, so no practical service-level target can be met at this c.
        return False
    if max_abandon is not None and res.p_abandon > max_abandon:
        return False
    return res.service_level(target_time) >= target_fraction


def required_agents(
    lam: float,
    mu: float,
    target_fraction: float,
    target_time: float,
    theta: float | None = None,
    max_abandon: float | None = None,
    max_occupancy: float | None = None,
    min_agents: int = 0,
) -> int:
    """Smallest number of agent slots meeting a service-level target.

    Service level is P(first response within ``target_time``): Erlang C's P(W <= t) when
    ``theta`` is None or 0, else Erlang A's P(served and wait <= t), where abandonments count as
    misses.  All constraints are monotone in ``c``, so the answer is found by galloping up from
    the offered load and bisecting: ``c`` meets every target and ``c - 1`` does not (unless
    ``c == min_agents``).

    Args:
        lam: arrival rate (per second by project convention), >= 0.
        mu: service rate per slot (same unit), > 0.
        target_fraction: required service level, in [0, 1) (e.g. 0.8 for "80 % in 15 min").
        target_time: answer-time target, >= 0 (same time unit, e.g. 900 s).
        theta: abandonment rate per waiting customer (1 / mean patience); None or 0 = patient.
        max_abandon: optional cap on P(abandon), in (0, 1]; only meaningful with ``theta > 0``
            (zero is unreachable: with impatient customers someone always abandons).
        max_occupancy: optional cap on agent occupancy ``lam / (c mu)`` in (0, 1] -- a burnout
            guard that adds slots beyond the service-level requirement when it binds.  (With
            abandonment the true occupancy is lower; the cap uses the offered load, which is
            the conservative choice.)
        min_agents: lower bound on the answer (e.g. 1 to always keep someone on shift).

    Returns:
        The minimal integer number of slots ``c >= min_agents``.  With ``lam == 0`` this is
        ``min_agents``.  Use :func:`agents_from_slots` to turn slots into people.

    Raises:
        ValueError: on invalid inputs (including ``target_fraction >= 1``, which no finite
            staffing can guarantee).
    """
    lam = _check_rate("lam", lam)
    mu = _check_rate("mu", mu, positive=True)
    target_fraction = _check_fraction("target_fraction", target_fraction, open_upper=True)
    target_time = _check_time("target_time", target_time)
    th = 0.0 if theta is None else _check_rate("theta", theta)
    if max_abandon is not None:
        max_abandon = _check_fraction("max_abandon", max_abandon)
        if max_abandon == 0 and th > 0:
            raise ValueError("max_abandon must be > 0 when theta > 0 (P(abandon) is never 0)")
    if max_occupancy is not None:
        max_occupancy = float(max_occupancy)
        if not 0 < max_occupancy <= 1:
            raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    min_agents = _check_count("min_agents", min_agents)
    if lam == 0:
        return min_agents

    def ok(c: int) -> bool:
        return _meets_target(lam, mu, c, target_fraction, target_time, th, max_abandon, max_occupancy)

    a = lam / mu
    if ok(min_agents):
        return min_agents
    # Without abandonment nothing below a is stable; with it the answer can be below a, but a is
    # still the natural first guess (square-root staffing puts the answer at a + O(sqrt(a))).
    lo = min_agents  # known to fail
    guess = max(lo + 1, math.floor(a) + 1 if th == 0 else math.ceil(a))
    if ok(guess):
        hi = guess
    else:
        lo = guess
        step = max(1, math.ceil(math.sqrt(a)))
        hi = lo + step
        while not ok(hi):
            lo = hi
            step *= 2
            hi = lo + step
            if hi > MAX_AGENTS_SEARCH + a:
                # Only reachable with targets at the edge of floating-point precision.
                raise ValueError(
                    f"no staffing up to {hi} slots meets target_fraction={target_fraction}"
                    f" within target_time={target_time} (lam={lam}, mu={mu}, theta={theta})"
                )
    # Invariant: ok(hi) and not ok(lo).
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def required_agents_for_intervals(
    rates: Sequence[float] | npt.ArrayLike,
    mu: float,
    target_fraction: float,
    target_time: float,
    theta: float | None = None,
    max_abandon: float | None = None,
    max_occupancy: float | None = None,
    min_agents: int = 0,
) -> npt.NDArray[np.int64]:
    """:func:`required_agents` for each interval's arrival rate.

    Args:
        rates: arrival rate per interval (per second by project convention), 1-D.
        mu, target_fraction, target_time, theta, max_abandon, max_occupancy, min_agents: as in
            :func:`required_agents`, shared by all intervals.

    Returns:
        numpy int64 array of slots per interval, same length as ``rates``.  Repeated rates are
        solved once.
    """
    arr = np.asarray(rates, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"rates must be one-dimensional, got shape {arr.shape}")
    cache: dict[float, int] = {}
    out = np.empty(arr.shape, dtype=np.int64)
    for i, lam in enumerate(arr.tolist()):
        if lam not in cache:
            cache[lam] = required_agents(
                lam, mu, target_fraction, target_time, theta=theta, max_abandon=max_abandon,
                max_occupancy=max_occupancy, min_agents=min_agents,
            )
        out[i] = cache[lam]
    return out


# --------------------------------------------------------------------------------------------
# concurrency
# --------------------------------------------------------------------------------------------


def effective_service_rate(mu: float, concurrency: int, slowdown: float) -> float:
    """Per-slot service rate of an agent handling several conversations at once.

    Project convention ("concurrency handled as slots with the slowdown factor"): an agent
    with ``k = concurrency`` simultaneous conversations is ``k`` independent slots, each
    serving at ``mu / (1 + slowdown * (k - 1))``.  So one agent's total throughput is
    ``k mu / (1 + slowdown (k - 1))``: ``slowdown = 0`` means perfect multitasking,
    ``slowdown = 1`` means no gain at all from concurrency.

    Args:
        mu: service rate of one conversation handled alone (per second), > 0.
        concurrency: conversations per agent ``k``, integer >= 1.
        slowdown: relative slowdown per extra concurrent conversation, >= 0.

    Returns:
        Service rate of each slot, in the unit of ``mu``.
    """
    mu = _check_rate("mu", mu, positive=True)
    k = _check_count("concurrency", concurrency)
    if k < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
    slowdown = _check_rate("slowdown", slowdown)
    return mu / (1.0 + slowdown * (k - 1))


@overload
def agents_from_slots(slots: int, concurrency: int) -> int: ...
@overload
def agents_from_slots(slots: npt.NDArray[np.integer], concurrency: int) -> npt.NDArray[np.int64]: ...
def agents_from_slots(
    slots: int | npt.NDArray[np.integer], concurrency: int
) -> int | npt.NDArray[np.int64]:
    """Agents needed to provide ``slots`` conversation slots: ``ceil(slots / concurrency)``.

    Args:
        slots: required slots (e.g. from :func:`required_agents` run with the per-slot rate of
            :func:`effective_service_rate`), an int or an integer numpy array, >= 0.
        concurrency: slots per agent, integer >= 1.

    Returns:
        Number of agents (int, or int64 array for array input).
    """
    k = _check_count("concurrency", concurrency)
    if k < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
    if isinstance(slots, np.ndarray):
        if slots.size and (slots.min() < 0 or not np.all(slots == np.floor(slots))):
            raise ValueError("slots must be non-negative integers")
        s = slots.astype(np.int64)
        return -(-s // k)  # exact integer ceiling division
    n = _check_count("slots", slots)
    return -(-n // k)


# --------------------------------------------------------------------------------------------
# modified offered load
# --------------------------------------------------------------------------------------------


def exponential_survival(mean: float) -> Callable[[FloatArray], FloatArray]:
    """Survival function ``S(x) = exp(-x / mean)`` of an exponential service time.

    Args:
        mean: mean service time (seconds), > 0.

    Returns:
        A vectorised callable ``S(x)`` for :func:`infinite_server_offered_load`.  Any other
        distribution works too, e.g. ``scipy.stats.lognorm(s, scale=...).sf``.
    """
    mean = _check_rate("mean", mean, positive=True)

    def survival(x: FloatArray) -> FloatArray:
        return np.exp(-np.maximum(np.asarray(x, dtype=float), 0.0) / mean)

    return survival


def _eval_survival(survival: Callable[..., object], x: FloatArray) -> FloatArray:
    try:
        y = np.asarray(survival(x), dtype=float)
        if y.shape != x.shape:
            y = np.broadcast_to(y, x.shape).astype(float)
    except (TypeError, ValueError):
        # A scalar-only callable (math.exp-based, say): evaluate point by point.
        y = np.array([float(survival(float(v))) for v in x])  # type: ignore[arg-type]
    if np.any(~np.isfinite(y)) or np.any(y < -1e-12) or np.any(y > 1 + 1e-12):
        raise ValueError("survival(x) must return probabilities in [0, 1]")
    return np.clip(y, 0.0, 1.0)


def _service_kernel(
    survival: Callable[..., object],
    dt: float,
    horizon_s: float | None,
    substeps: int,
    tail_tol: float,
) -> FloatArray:
    """Interval-averaged convolution weights ``w_k`` (seconds), k = 0..K; ``sum w == E[S]``.

    With lam piecewise constant on intervals of length dt and m averaged over each interval,
    m_i = sum_j lam_j w_{i-j} with the triangle-weighted integral
    w_k = (1/dt) int_{-dt}^{dt} (dt - |x|) S(k dt + x) dx   (S = 0 for negative arguments),
    which is exact for piecewise-constant lam.  Split per interval j into a rising ramp A_j
    (feeds w_{j+1}) and a falling ramp B_j (feeds w_j), each integrated by composite Simpson.
    """
    if horizon_s is None:
        # Grow the horizon until the survival function is negligible.
        n = 1
        while float(_eval_survival(survival, np.array([n * dt]))[0]) > tail_tol:
            n *= 2
            if n > 2**22:
                raise ValueError(
                    "survival(x) does not fall below tail_tol within 4 million intervals; "
                    "pass horizon_s explicitly (heavy-tailed service time?)"
                )
        n_int = n
    else:
        n_int = max(1, math.ceil(_check_rate("horizon_s", horizon_s, positive=True) / dt))
    substeps += substeps % 2  # Simpson needs an even number of panels
    h = dt / substeps
    x_all = np.arange(n_int * substeps + 1, dtype=float) * h
    s_all = _eval_survival(survival, x_all)
    # Row j holds S on interval j's substep points (end points shared with neighbours).
    idx = np.arange(n_int)[:, None] * substeps + np.arange(substeps + 1)[None, :]
    s_rows = s_all[idx]
    simpson = np.ones(substeps + 1)
    simpson[1:-1:2], simpson[2:-1:2] = 4.0, 2.0
    simpson *= h / 3.0
    x_local = np.arange(substeps + 1, dtype=float) * h
    rising = s_rows @ (simpson * x_local) / dt  # A_j
    falling = s_rows @ (simpson * (dt - x_local)) / dt  # B_j
    w = np.zeros(n_int + 1)
    w[:-1] += falling
    w[1:] += rising
    # Simpson can dip a hair below zero for a jump in S; weights are non-negative integrals.
    return np.maximum(w, 0.0)


def infinite_server_offered_load(
    arrival_rates: Sequence[float] | npt.ArrayLike,
    interval_s: float,
    survival: Callable[..., object],
    periodic: bool = True,
    horizon_s: float | None = None,
    substeps: int = 32,
    tail_tol: float = 1e-10,
) -> FloatArray:
    """Modified offered load m(t) = int_0^inf lam(t - u) S(u) du per interval (MOL).

    m(t) is the mean number of busy servers in the M_t/G/inf queue (Jennings, Mandelbaum, Massey
    & Whitt 1996): it lags and damps the arrival curve by the service duration, unlike the
    pointwise-stationary load ``lam(t) E[S]``.  Here ``lam`` is taken as constant within each
    interval and the returned value is the *average* of m over each interval, computed exactly
    for that input by a discrete convolution with interval-averaged kernel weights (up to the
    quadrature of S on ``substeps`` points per interval).

    Args:
        arrival_rates: arrival rate in each interval (per second), 1-D, >= 0.
        interval_s: interval length (seconds), > 0.
        survival: service-time survival function ``S(x) = P(S > x)``, x in seconds; should
            accept a numpy array (scalar callables also work, slower).
        periodic: True treats the rates as one period of a repeating cycle (e.g. a day), so
            load from the end of the day wraps into its start; False assumes no arrivals before
            the first interval (system starting empty).
        horizon_s: how far back service matters; by default the smallest power-of-two multiple
            of ``interval_s`` at which ``S < tail_tol``.
        substeps: quadrature points per interval for integrating ``S``.
        tail_tol: survival level treated as zero when choosing the horizon.

    Returns:
        Float array of offered load in Erlangs per interval, same length as ``arrival_rates``.
        Constant ``lam`` gives ``lam * E[S]`` (periodic case).
    """
    lam = _check_rate_array(arrival_rates)
    dt = _check_rate("interval_s", interval_s, positive=True)
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps!r}")
    w = _service_kernel(survival, dt, horizon_s, int(substeps), tail_tol)
    return _convolve_load(lam, w, periodic)


def _convolve_load(lam: FloatArray, w: FloatArray, periodic: bool) -> FloatArray:
    """m_i = sum_k w_k lam_{i-k}, wrapping around one period or with zero history."""
    n = lam.size
    if periodic:
        # Fold the kernel onto one period, then circular convolution via the real FFT.
        folded = np.zeros(n)
        np.add.at(folded, np.arange(w.size) % n, w)
        m = np.fft.irfft(np.fft.rfft(lam) * np.fft.rfft(folded), n=n)
    else:
        # Imported here: scipy.signal costs ~0.6 s of start-up to every command otherwise.
        from scipy.signal import fftconvolve

        m = fftconvolve(lam, w)[:n]
    # FFT round-off can leave tiny negatives where the load is zero.
    return np.asarray(np.maximum(m, 0.0), dtype=float)


def mol_staffing(
    arrival_rates: Sequence[float] | npt.ArrayLike,
    interval_s: float,
    survival: Callable[..., object],
    target_fraction: float,
    target_time: float,
    theta: float | None = None,
    max_abandon: float | None = None,
    max_occupancy: float | None = None,
    min_agents: int = 0,
    periodic: bool = True,
    horizon_s: float | None = None,
) -> npt.NDArray[np.int64]:
    """Staffing per interval by the modified-offered-load (MOL) approximation.

    Each interval is staffed as a stationary M/M/c(+M) queue whose offered load is the MOL
    ``m_i`` from :func:`infinite_server_offered_load` instead of ``lam_i E[S]``: the stationary
    formulas are applied with ``mu = 1 / E[S]`` and the effective arrival rate ``m_i mu``.  This
    shifts staff later than the arrival peak by roughly the service time, which is what the
    real system needs.

    Args:
        arrival_rates: arrival rate per interval (per second), 1-D.
        interval_s: interval length (seconds).
        survival: service-time survival function (seconds), see
            :func:`infinite_server_offered_load`; E[S] is its integral.
        target_fraction, target_time, theta, max_abandon, max_occupancy, min_agents: as in
            :func:`required_agents`.
        periodic, horizon_s: as in :func:`infinite_server_offered_load`.

    Returns:
        numpy int64 array of slots per interval.
    """
    lam = _check_rate_array(arrival_rates)
    dt = _check_rate("interval_s", interval_s, positive=True)
    w = _service_kernel(survival, dt, horizon_s, 32, 1e-10)
    m = _convolve_load(lam, w, periodic)
    mean_s = float(w.sum())  # the kernel integrates the survival function: sum w = E[S]
    if mean_s <= 0:
        raise ValueError("survival(x) integrates to zero: service time must have E[S] > 0")
    mu = 1.0 / mean_s
    return required_agents_for_intervals(
        m * mu, mu, target_fraction, target_time, theta=theta, max_abandon=max_abandon,
        max_occupancy=max_occupancy, min_agents=min_agents,
    )


# --------------------------------------------------------------------------------------------
# Little's law
# --------------------------------------------------------------------------------------------


def littles_law_L(lam: float, W: float) -> float:  # noqa: N802,N803 - textbook notation
    """Little's law L = lam W: mean number in a system from its throughput and mean sojourn.

    Holds for any stationary system (queue only, service only, or both) as long as ``lam`` is
    the rate of customers *entering that part* and ``W`` their mean time in it.

    Args:
        lam: arrival (= throughput) rate, per second.
        W: mean time in the system, seconds (may be inf).

    Returns:
        Mean number in the system (dimensionless); 0 when ``lam == 0``.
    """
    lam = _check_rate("lam", lam)
    w = float(W)
    if math.isnan(w) or w < 0:
        raise ValueError(f"W must be a time >= 0, got {W!r}")
    return 0.0 if lam == 0 else lam * w


# --------------------------------------------------------------------------------------------
# Priority classes (Cobham)
# --------------------------------------------------------------------------------------------


def priority_mean_waits(
    lams: Sequence[float], mean_service: Sequence[float], second_moment: Sequence[float],
) -> list[float]:
    """Mean queue wait of each class of a single server with non-preemptive priority (Cobham).

    Classes are given highest priority first, each with its own Poisson arrival rate and its
    own service-time distribution (any: only its first two moments matter). With
    ``W0 = sum_i lam_i E[S_i^2] / 2`` (the mean residual work found in service) and
    ``s_k = sum_{i<=k} lam_i E[S_i]``, class ``k`` waits ``W0 / ((1 - s_{k-1}) (1 - s_k))``.
    One class gives Pollaczek-Khinchine's ``W0 / (1 - rho)``.

    Args:
        lams: arrival rate of each class, per second.
        mean_service: mean service time of each class, seconds.
        second_moment: E[S^2] of each class's service time, seconds squared (an exponential's
            is ``2 mean^2``; a gamma or lognormal's ``mean^2 (1 + cv^2)``).

    Returns:
        The mean wait of each class, seconds, in the order given; ``inf`` for a class whose
        cumulative load reaches 1.
    """
    if not len(lams) == len(mean_service) == len(second_moment) or not len(lams):
        raise ValueError("lams, mean_service and second_moment must be non-empty and of one length")
    for i, (lam, es, es2) in enumerate(zip(lams, mean_service, second_moment, strict=True)):
        _check_rate(f"lams[{i}]", lam)
        if not es >= 0 or not es2 >= es * es:
            raise ValueError(f"class {i}: expected mean_service >= 0 and second_moment >= mean^2, got {es}, {es2}")
    w0 = sum(lam * es2 for lam, es2 in zip(lams, second_moment, strict=True)) / 2.0
    waits, above = [], 0.0
    for lam, es in zip(lams, mean_service, strict=True):
        upto = above + lam * es
        waits.append(math.inf if upto >= 1.0 else w0 / ((1.0 - above) * (1.0 - upto)))
        above = upto
    return waits
