"""Forecast a brand's inbound volume per interval, with prediction intervals, beside a
seasonal-naive baseline; score both on a held-out tail (WAPE, MASE).

The model (statsmodels throughout): counts are put on the Anscombe scale, ``2 sqrt(y + 3/8)``,
where Poisson noise has unit variance whatever the level (so one interval width fits quiet
nights and busy afternoons); dated spikes (an outage storm) are flagged as outliers — more than
:data:`OUTLIER_SIGMAS` from the median of their hour of the week — and replaced by that median
before fitting, so they are reported, not learned as seasonality; the weekly seasonality is
estimated by classical decomposition (``statsmodels.tsa.seasonal.seasonal_decompose``, period
one week) and the rest by exponential smoothing with a damped additive trend
(``ETSModel(error="add", trend="add", damped_trend=True)``). The prediction variance is the
ETS forecast variance plus that of the seasonal estimate (residual variance / weeks seen);
bounds are transformed back, so they are quantiles of the count. The **seasonal-naive
baseline** forecasts each interval as the same interval one week earlier.

WAPE = sum |y - f| / sum y; MASE = mean |y - f| / mean |y_t - y_{t-week}| over the training part.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from chirpdesk.sim.errors import ChirpdeskError

#: Distance (in Poisson standard deviations, on the Anscombe scale) from which a count is an outlier.
OUTLIER_SIGMAS = 5.0
WEEK = 7 * 86400.0


def anscombe(y: np.ndarray) -> np.ndarray:
    """``2 sqrt(y + 3/8)``: Poisson counts with (nearly) unit variance."""
    return 2.0 * np.sqrt(np.asarray(y, dtype=float) + 0.375)


def inverse_anscombe(z: np.ndarray) -> np.ndarray:
    """The count whose Anscombe value is ``z`` (quantiles map to quantiles), at least 0."""
    return np.maximum((np.asarray(z, dtype=float) / 2.0) ** 2 - 0.375, 0.0)


def seasonal_naive(y: np.ndarray, period: int, steps: int) -> np.ndarray:
    """The last full period of ``y`` repeated over ``steps``."""
    last = np.asarray(y, dtype=float)[-period:]
    return np.resize(last, steps)


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error: ``sum |y - f| / sum y``."""
    total = float(np.sum(actual))
    return float(np.sum(np.abs(actual - forecast))) / total if total else math.nan


def mase(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray, period: int) -> float:
    """Mean absolute scaled error against the in-sample seasonal-naive error."""
    scale = float(np.mean(np.abs(train[period:] - train[:-period]))) if train.size > period else math.nan
    return float(np.mean(np.abs(actual - forecast))) / scale if scale else math.nan


def flag_outliers(y: np.ndarray, period: int, sigmas: float = OUTLIER_SIGMAS) -> np.ndarray:
    """True where a count is more than ``sigmas`` Poisson standard deviations (on the Anscombe
    scale) above or below the median of its position in the period."""
    z = anscombe(y)
    slot = np.arange(z.size) % period
    med = np.zeros(period)
    for j in range(period):
        med[j] = np.median(z[slot == j])
    return np.abs(z - med[slot]) > sigmas


@dataclass(frozen=True)
class CountForecast:
    """Forecast of ``steps`` intervals: ``mean``, ``low``, ``high`` (counts per interval), and
    the training intervals flagged as outliers (``outliers``, a boolean mask of the input)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    outliers: np.ndarray


def forecast_counts(y: np.ndarray, period: int, steps: int, level: float = 0.95) -> CountForecast:
    """Forecast the next ``steps`` counts of ``y`` (one count per interval, ``period`` intervals
    per week) with ``level`` prediction intervals; see the module docstring. Needs two periods."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.seasonal import seasonal_decompose

    y = np.asarray(y, dtype=float)
    if y.size < 2 * period:
        raise ValueError(f"needs at least two weeks of history ({2 * period} intervals), got {y.size}")
    out = flag_outliers(y, period)
    z = anscombe(y)
    if out.any():
        slot = np.arange(z.size) % period
        for j in np.unique(slot[out]):
            z[out & (slot == j)] = np.median(z[(slot == j) & ~out])
    weeks = y.size / period
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter; the fit is checked below
        dec = seasonal_decompose(z, period=period, model="additive", two_sided=True, extrapolate_trend="freq")
        seasonal = np.asarray(dec.seasonal)
        fit = ETSModel(_series(z - seasonal), error="add", trend="add", damped_trend=True).fit(disp=False)
        pred = fit.get_prediction(start=y.size, end=y.size + steps - 1).summary_frame(alpha=1 - level)
    resid = np.asarray(dec.resid)
    resid_var = float(np.nanvar(resid))
    q = float(stats.norm.ppf(0.5 + level / 2))
    centre = pred["mean"].to_numpy() + seasonal[(np.arange(y.size, y.size + steps)) % period]
    se = (pred["pi_upper"].to_numpy() - pred["mean"].to_numpy()) / q
    se = np.sqrt(se**2 + resid_var / weeks)
    # The mean of a back-transformed normal is the transform of its centre plus 1/4 (delta method).
    return CountForecast(inverse_anscombe(centre) + 0.25 * (se**2), inverse_anscombe(centre - q * se),
                         inverse_anscombe(centre + q * se), out)


def _series(values: np.ndarray) -> object:
    import pandas as pd  # statsmodels' prediction frames need an indexed series

    return pd.Series(values)


def interval_counts(starts: np.ndarray, first: float, intervals: int, width: float) -> np.ndarray:
    """Counts of ``starts`` (epoch s) in ``intervals`` consecutive intervals of ``width`` s from ``first``."""
    idx = np.floor((np.asarray(starts, dtype=float) - first) / width).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < intervals)]
    return np.bincount(idx, minlength=intervals).astype(float)


def history_grid(starts: np.ndarray, width: float) -> tuple[float, int]:
    """The interval grid of a history: first interval start (aligned to ``width`` in UTC) and the
    number of whole intervals to the last start."""
    first = math.floor(float(np.min(starts)) / width) * width
    last = math.floor(float(np.max(starts)) / width) * width
    return first, int(round((last - first) / width))  # the last, partial interval is left out


def check_length(intervals: int, period: int, holdout: int, width: float) -> None:
    """Refuse a history too short to fit on (two weeks after the holdout), saying what is needed."""
    need = 2 * period + holdout
    if intervals < need:
        have_days = intervals * width / 86400.0
        raise ChirpdeskError(f"the history has {have_days:.1f} days of threads; forecasting needs at least "
                             f"{need * width / 86400.0:.0f} days (two weeks to learn the weekly shape"
                             + (f", plus the {holdout * width / 86400.0:g}-day holdout" if holdout else "") + ")")
