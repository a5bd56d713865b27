"""Random quantities described in scenario files: handle times, patience, follower counts.

A :class:`Distribution` is a frozen description (family and parameters in seconds or plain
numbers); sampling takes an explicit :class:`numpy.random.Generator` and draws in blocks, so the
model's hot path pulls floats from a list instead of calling numpy per event.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from chirpdesk.sim.seeds import children

#: Families a scenario may name in ``dist = ...``, with the keys each takes.
FAMILIES: dict[str, tuple[str, ...]] = {
    "exponential": ("mean",),
    "lognormal": ("mean", "cv"),
    "gamma": ("mean", "cv"),
    "constant": ("value",),
    "uniform": ("low", "high"),
    "empirical": ("values", "weights"),
    "none": (),
}


@dataclass(frozen=True)
class Distribution:
    """A non-negative random quantity.

    Attributes are in the quantity's unit (seconds for durations, plain numbers for counts):
    ``mean`` for exponential/lognormal/gamma, ``cv`` (coefficient of variation = sd/mean) for
    lognormal/gamma, ``value`` for constant, ``low``/``high`` for uniform, ``values`` and
    optional ``weights`` for empirical. ``family == "none"`` means "never" (infinite patience).
    """

    family: str
    mean: float = math.nan
    cv: float = math.nan
    value: float = math.nan
    low: float = math.nan
    high: float = math.nan
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()

    @property
    def is_none(self) -> bool:
        """True for the ``none`` family: the event never happens (samples are +inf)."""
        return self.family == "none"

    def expected(self) -> float:
        """Return the mean of the distribution (same unit as its parameters; inf for ``none``)."""
        f = self.family
        if f in ("exponential", "lognormal", "gamma"):
            return self.mean
        if f == "constant":
            return self.value
        if f == "uniform":
            return 0.5 * (self.low + self.high)
        if f == "empirical":
            return float(np.dot(self.values, self._probabilities()))
        return math.inf

    def _probabilities(self) -> np.ndarray:
        if self.weights:
            w = np.asarray(self.weights, dtype=float)
            return w / w.sum()
        return np.full(len(self.values), 1.0 / len(self.values))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` independent samples as a float64 array (``inf`` for ``none``)."""
        f = self.family
        if f == "exponential":
            return rng.exponential(self.mean, size)
        if f == "lognormal":
            # Moment-matched: E[X] = mean, sd(X) = cv * mean.
            sigma2 = math.log1p(self.cv * self.cv)
            mu = math.log(self.mean) - 0.5 * sigma2 if self.mean > 0 else -math.inf
            return rng.lognormal(mu, math.sqrt(sigma2), size) if self.mean > 0 else np.zeros(size)
        if f == "gamma":
            if self.cv == 0:
                return np.full(size, self.mean)
            shape = 1.0 / (self.cv * self.cv)
            return rng.gamma(shape, self.mean / shape, size)
        if f == "constant":
            return np.full(size, self.value)
        if f == "uniform":
            return rng.uniform(self.low, self.high, size)
        if f == "empirical":
            return rng.choice(np.asarray(self.values, dtype=float), size=size, p=self._probabilities())
        return np.full(size, math.inf)

    def survival(self, x: np.ndarray) -> np.ndarray:
        """Return P(X > x) for each x (used by the modified-offered-load staffing)."""
        from scipy import stats

        x = np.asarray(x, dtype=float)
        f = self.family
        if f == "exponential":
            return np.exp(-x / self.mean)
        if f == "lognormal":
            sigma = math.sqrt(math.log1p(self.cv * self.cv))
            mu = math.log(self.mean) - 0.5 * sigma * sigma
            return np.asarray(stats.lognorm.sf(x, sigma, scale=math.exp(mu)))
        if f == "gamma":
            if self.cv == 0:
                return (x < self.mean).astype(float)
            shape = 1.0 / (self.cv * self.cv)
            return np.asarray(stats.gamma.sf(x, shape, scale=self.mean / shape))
        if f == "constant":
            return (x < self.value).astype(float)
        if f == "uniform":
            return np.clip((self.high - x) / max(self.high - self.low, 1e-300), 0.0, 1.0)
        if f == "empirical":
            vals = np.asarray(self.values, dtype=float)
            p = self._probabilities()
            return np.array([p[vals > xi].sum() for xi in np.ravel(x)]).reshape(x.shape)
        return np.ones_like(x)

    def describe(self) -> dict[str, object]:
        """Return the TOML-shaped table of this distribution (numbers in base units)."""
        out: dict[str, object] = {"dist": self.family}
        for key in FAMILIES[self.family]:
            val = getattr(self, key)
            if isinstance(val, tuple):
                if val:
                    out[key] = list(val)
            else:
                out[key] = val
        return out


@dataclass
class Draws:
    """Samples of one distribution served one at a time, refilled from numpy in blocks.

    Calling the object returns the next sample as a Python float. Blocks keep the per-event cost
    to a list step, and give each purpose (compose, think, patience...) its own stream so that
    turning one feature on does not shift the random numbers of another.

    Hot loops should bind :attr:`next` once (``draw = draws.next``) and call ``draw()``: it is the
    ``__next__`` of a generator walking the current block, so a draw costs one C-level iterator
    step instead of a Python method call with index bookkeeping. Both ways share one position.
    """

    dist: Distribution
    rng: np.random.Generator
    block: int = 4096
    next: Callable[[], float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.next = self._blocks().__next__

    def _blocks(self) -> Iterator[float]:
        sample, rng, block = self.dist.sample, self.rng, self.block
        while True:
            # tolist() once per block: Python floats, so a draw is never a numpy scalar.
            yield from sample(rng, block).tolist()

    def __call__(self) -> float:
        return self.next()


def per_kind_draws(
    dist_for: Callable[[str], Distribution], by_kind: dict[str, Distribution], kinds: tuple[str, ...],
    seed: np.random.SeedSequence,
) -> list[Callable[[], float]] | None:
    """One draw function per kind code (``kinds`` order), each on its own child stream of
    ``seed``; ``None`` when every kind shares one distribution (``by_kind`` empty), so that a
    scenario with a single form draws exactly as before."""
    if not by_kind:
        return None
    return [Draws(dist_for(k), np.random.default_rng(s)).next for k, s in zip(kinds, children(seed, len(kinds)), strict=True)]
