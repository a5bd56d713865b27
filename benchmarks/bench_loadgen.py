"""How many tweets per second one Locust process can emit with the open-arrival dispatcher.

``python -m benchmarks.bench_loadgen``: starts a bare ASGI app ("return 200", no body read
beyond what uvicorn does) on uvicorn at 127.0.0.1, then runs the real load-test machinery
(``loadtests/locustfile.py``, one Locust process, FastHttpUser dispatcher, signed Faker payloads)
at a flat arrival rate:

1. a probe far above what one process can do: the achieved rate is the capacity;
2. runs at 50%, 80% and 100% of that capacity, reporting the schedule lag (actual send time -
   intended time) percentiles and the saturation verdict.

Bounded: five runs of a few seconds each, well under 3 minutes. Figures depend on the machine;
they are printed and written to ``runs/bench_loadgen.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chirpdesk.loadtests.cli import free_port, run_locust, stop_process, wait_healthy
from chirpdesk.loadtests.plan import Settings, build_plan
from chirpdesk.loadtests.report import generator_stats, load_records

REPO = Path(__file__).resolve().parents[1]
#: Real seconds of arrivals per run.
RUN_SECONDS = 6.0
#: Probe rate (tweets/s), far above one process's capacity on a typical machine.
PROBE_RATE = 4000.0

BARE_APP = """
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body, as any real endpoint must
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"stored":1,"duplicates":0}'})

uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning",
            access_log=False)
"""

SCENARIO = """
[scenario]
name = "bench-loadgen"
horizon = "2d"
seed = 1

[arrivals]
base_rate = {rate}                  # per simulated hour; speedup 3600 makes it per real second

[mix]
kinds = {{ question = 0.5, complaint = 0.3, praise = 0.2 }}

[handling]
compose = {{ dist = "constant", value = "1m" }}

[[agents.shifts]]
name = "all"
count = 1

[loadtest]
speedup = 3600
duration = "{seconds}s"
agents = false
"""


def one_run(host: str, rate: float, work: Path) -> dict[str, float | bool | None]:
    """Send ``rate`` tweets/s for :data:`RUN_SECONDS`; returns rate and lag figures."""
    scenario = work / f"bench-{rate:.0f}.toml"
    scenario.write_text(SCENARIO.format(rate=rate, seconds=RUN_SECONDS))
    out = work / f"run-{rate:.0f}"
    out.mkdir(exist_ok=True)
    settings = Settings(scenario=str(scenario), secret="bench", out=str(out))
    plan = build_plan(settings)
    run_locust(plan, settings, host, out, 1)
    rec, metas = load_records(out)
    meta = next(m for m in metas if m.get("dispatcher"))
    g = generator_stats(rec, plan, meta["t0"], meta.get("cpu_percent", []), settings.lag_threshold)
    sent = rec.start[rec.what == "tweet"]
    # Capacity: tweets actually sent per second of sending, whatever the schedule asked.
    span = float(sent.max() - sent.min()) if sent.size > 1 else RUN_SECONDS
    return {"intended_rate": g["intended_rate"], "achieved_rate": g["achieved_rate"],
            "send_rate": sent.size / max(span, 1e-9), "lag_p50_s": g["schedule_lag_s"]["p50"],
            "lag_p95_s": g["schedule_lag_s"]["p95"], "lag_max_s": g["schedule_lag_s"]["max"],
            "cpu_max": g["cpu_percent_max"], "saturated": g["generator_saturated"]}


def main() -> int:
    """Run the benchmark; prints a table and writes runs/bench_loadgen.json."""
    started = time.monotonic()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)], env=env)
    host = f"http://127.0.0.1:{port}"
    results: dict[str, dict[str, float | bool | None]] = {}
    try:
        wait_healthy(host, server)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            probe = one_run(host, PROBE_RATE, work)
            results["probe"] = probe
            capacity = float(probe["send_rate"] or 0.0)
            for share in (0.5, 0.8, 1.0):
                results[f"{share:.0%}"] = one_run(host, max(capacity * share, 1.0), work)
    finally:
        stop_process(server, 5.0)
    print(f"one Locust process, open-arrival FastHttpUser, bare ASGI endpoint on uvicorn: "
          f"capacity ~{capacity:,.0f} tweets/s")
    print(f"{'load':>6} {'intended/s':>11} {'achieved/s':>11} {'lag p50 ms':>11} {'lag p95 ms':>11} "
          f"{'lag max ms':>11} {'cpu %':>6} saturated")
    for name, r in results.items():
        def ms(v: float | bool | None) -> str:
            return "-" if v is None else f"{float(v) * 1000:.1f}"

        print(f"{name:>6} {r['intended_rate']:>11,.0f} {r['achieved_rate']:>11,.0f} {ms(r['lag_p50_s']):>11} "
              f"{ms(r['lag_p95_s']):>11} {ms(r['lag_max_s']):>11} {r['cpu_max'] or 0:>6.0f} {r['saturated']}")
    out = REPO / "runs"
    out.mkdir(exist_ok=True)
    (out / "bench_loadgen.json").write_text(json.dumps({"capacity": capacity, "runs": results,
                                                         "wall_seconds": time.monotonic() - started}, indent=2))
    print(f"wall {time.monotonic() - started:.0f} s; wrote runs/bench_loadgen.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
