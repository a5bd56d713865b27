"""Minimal M/M/c models, the yardsticks chirpdesk's engine is measured against.

Each function simulates the same case (Poisson arrivals at ``lam`` per minute, exponential
service at ``mu`` per minute, ``c`` servers, FCFS, no abandonment) for ``horizon`` minutes and
returns ``(customers, mean_wait)``: the number of customers that arrived and their mean wait for
a server among those served. They are written the way a competent user of each tool would
write them in an afternoon, not tuned to lose:

* :func:`simpy_minimal` — the textbook SimPy model: a source process and one generator process
  per customer requesting a :class:`simpy.Resource`;
* :func:`ciw_minimal` — the same network in Ciw (one node, ``c`` servers);
* :func:`heapq_fcfs` — no library: a ``heapq`` of server-free times and a FCFS loop, the floor
  any Python discrete-event engine can hope to approach.

The wait is returned so that the benchmark can check that every model simulates the same queue
(all should be close to Erlang C's mean wait).
"""

from __future__ import annotations

import heapq
import random

import ciw
import simpy


def simpy_minimal(lam: float, mu: float, c: int, horizon: float, seed: int) -> tuple[int, float]:
    """Textbook SimPy: ``Resource(capacity=c)``, a source process, a process per customer."""
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    waits: list[float] = []
    arrived = 0

    def customer(env: simpy.Environment):  # type: ignore[no-untyped-def]
        t0 = env.now
        with servers.request() as req:
            yield req
            waits.append(env.now - t0)
            yield env.timeout(rng.expovariate(mu))

    def source(env: simpy.Environment):  # type: ignore[no-untyped-def]
        nonlocal arrived
        while True:
            yield env.timeout(rng.expovariate(lam))
            arrived += 1
            env.process(customer(env))

    env.process(source(env))
    env.run(until=horizon)
    return arrived, sum(waits) / max(len(waits), 1)


def ciw_minimal(lam: float, mu: float, c: int, horizon: float, seed: int) -> tuple[int, float]:
    """Ciw: one node with ``c`` servers, exponential arrivals and service."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=mu)],
        number_of_servers=[c],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(horizon)
    recs = sim.get_all_records()
    # Customers still waiting or in service at the end are not in the records: count them too.
    in_system = sum(len(node.all_individuals) for node in sim.transitive_nodes)
    waits = [r.waiting_time for r in recs]
    return len(recs) + in_system, sum(waits) / max(len(waits), 1)


def heapq_fcfs(lam: float, mu: float, c: int, horizon: float, seed: int) -> tuple[int, float]:
    """Hand-written FCFS loop: the next free server is the top of a heap of free-at times."""
    rng = random.Random(seed)
    expo = rng.expovariate
    free = [0.0] * c  # a heap of the times each server next becomes free
    replace = heapq.heapreplace
    t = 0.0
    n = 0
    total_wait = 0.0
    while True:
        t += expo(lam)
        if t >= horizon:
            break
        n += 1
        start = free[0]
        if start < t:
            start = t
        total_wait += start - t
        replace(free, start + expo(mu))
    return n, total_wait / max(n, 1)
