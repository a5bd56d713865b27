"""Locust load shapes built from a scenario (imports Locust: load it from a locustfile).

Arrivals are open: the *rate* over time comes from the arrival schedule the dispatcher replays
(:mod:`chirpdesk.loadtests.plan`, sent by one :class:`~chirpdesk.loadtests.users.TweetUser` dispatcher in every
Locust process), so a shape here decides which users run and for how long: one
:class:`~chirpdesk.loadtests.users.AgentUser` per agent the scenario has on shift at the busiest moment
of the window (each agent gates itself on the shift calendar). The named shapes differ in the
arrival schedule they ask for:

* :class:`ScenarioShape`: the scenario window ``[offset, offset + duration x speedup)``, or the
  kind named by ``--shape``/``CHIRPDESK_SHAPE``/``[loadtest] shape``;
* :class:`StepShape`: ``step_rate`` more tweets/s every ``step_every`` s, ``step_count`` steps
  (find the knee);
* :class:`SoakShape`: the window's mean rate, flat, for ``duration``;
* :class:`SpikeShape`: the soak rate with a ``spike_multiplier`` x spike at ``spike_at``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from locust import LoadTestShape

from chirpdesk.loadtests.users import RUN, AgentUser


class _ChirpdeskShape(LoadTestShape):
    abstract = True
    #: The arrival-schedule kind; ``None`` means "from the settings or the scenario".
    kind: ClassVar[str | None] = None

    def tick(self) -> tuple[int, float, list[Any]] | None:
        """``(users, spawn_rate, user classes)`` now, or ``None`` when the window is over."""
        plan = RUN.plan_for(self.kind)
        RUN.shape_kind = plan.shape
        out = plan.tick(self.get_run_time())
        if out is None:
            return None
        _, rate, counts = out
        agents = counts["AgentUser"] if RUN.settings.agents else 0  # no tokens: no agents
        AgentUser.fixed_count = agents
        return agents, rate, [AgentUser]


class ScenarioShape(_ChirpdeskShape):
    """The shape the settings ask for (default: the scenario's ``[loadtest] shape``)."""


class StepShape(_ChirpdeskShape):
    """Step ramp of the arrival rate (``[loadtest] step_rate``, ``step_every``, ``step_count``)."""

    kind = "step"


class SoakShape(_ChirpdeskShape):
    """The window's mean arrival rate held flat for ``[loadtest] duration``."""

    kind = "soak"


class SpikeShape(_ChirpdeskShape):
    """A ``spike_multiplier`` x spike at ``spike_at`` for ``spike_duration`` real seconds."""

    kind = "spike"
