"""``chirpdesk calibrate``: definitions pinned on hand-made threads, known parameters recovered
from generated histories (twcs, X v2, the desk's own database), messy rows counted, and the
written scenario runnable as is."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from chirpdesk.sim.calibrate import calibrate, hour_of_week_rate, quantile_interval
from chirpdesk.sim.cli import main
from chirpdesk.sim.errors import ChirpdeskError
from chirpdesk.sim.history import read_history
from chirpdesk.sim.history_gen import BrandTruth, _twcs_time, generate_twcs
from chirpdesk.sim.loader import load_scenario

T0 = 1_507_507_200.0  # Mon 09 Oct 2017 00:00 UTC


def _write(path: Path, rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id",
                    "in_response_to_tweet_id"])
        w.writerows(rows)
    return path


def _threads(n: int) -> list[list[object]]:
    """``n`` copies of three threads whose figures are known by hand."""
    rows: list[list[object]] = []
    for k in range(n):
        b, t = 1000 * k, T0 + 3600.0 * k
        rows += [
            # Thread 1: answered after 120 s and again after 900 s (the earliest counts), then the
            # customer writes again and is answered with a DM request.
            [b + 1, f"c{k}", "True", _twcs_time(t), "@Acme my parcel?", f"{b + 2},{b + 3}", ""],
            [b + 2, "Acme", "False", _twcs_time(t + 120), "@c looking into it", f"{b + 4}", b + 1],
            [b + 3, "Acme", "False", _twcs_time(t + 900), "@c any luck?", "", b + 1],
            [b + 4, f"c{k}", "True", _twcs_time(t + 1000), "@Acme still nothing", f"{b + 5}", b + 2],
            [b + 5, "Acme", "False", _twcs_time(t + 1300), "@c please DM us your order number", "", b + 4],
            # Thread 2: never answered, attributed by its @mention.
            [b + 6, f"d{k}", "True", _twcs_time(t + 10), "@acme hello??", "", ""],
            # Thread 3: another brand's.
            [b + 7, f"e{k}", "True", _twcs_time(t + 20), "@Other hi", f"{b + 8}", ""],
            [b + 8, "Other", "False", _twcs_time(t + 80), "@e hi", "", b + 7],
        ]
    return rows


def test_definitions_on_hand_made_threads(tmp_path: Path) -> None:
    h = read_history(str(_write(tmp_path / "twcs.csv", _threads(40))))
    s = calibrate(h, "Acme").summary
    assert s["threads"] == 80  # threads 1 and 2 of each copy
    assert s["reply_pairs"] == 80  # tweet 1 -> 2 (not 3: the earliest), tweet 4 -> 5
    assert s["customer_tweets"] == 120
    assert s["response_rate"] == pytest.approx(80 / 120)
    assert s["first_response_p50_s"] == 120.0  # of answered threads: every thread 1
    assert s["answered_within_10m_share"] == pytest.approx(0.5)  # thread 2 never answered
    assert s["turns_mean"] == pytest.approx(1.5)  # 2 customer tweets, then 1
    assert s["dm_share"] == 1.0  # every answered thread ends with "DM us"
    assert s["brands"] == {"Acme": 120, "Other": 40}
    assert calibrate(h, "@acme").summary["threads"] == 80  # handle with @, any case


def _within(truth: float, estimate: float, ci: list[float]) -> bool:
    """``truth`` within the 99.9% interval implied by a 95% one (several figures are checked
    at once: at 95% each, one of them would miss now and then)."""
    half = (ci[1] - ci[0]) / 2 * stats.norm.ppf(0.9995) / stats.norm.ppf(0.975)
    return abs(estimate - truth) <= half and ci[1] - ci[0] < 0.1 * abs(truth)


def test_known_parameters_are_recovered_from_a_generated_history(tmp_path: Path) -> None:
    truth = BrandTruth("AcmeHelp", rate=20.0)
    # On a messy copy: the recovery must survive what real exports contain.
    generate_twcs(tmp_path / "twcs.csv", [truth, BrandTruth("OtherCo", rate=6.0)], weeks=4, seed=3, messy=True)
    s = calibrate(read_history(str(tmp_path / "twcs.csv")), "AcmeHelp").summary
    rate = s["fitted"]["arrivals.base_rate_per_hour"]
    assert _within(truth.rate, rate["value"], [rate["ci_low"], rate["ci_high"]])
    assert _within(truth.answer_share, s["response_rate"], s["response_rate_ci"])
    assert _within(truth.response_median_s, s["first_response_p50_s"], s["first_response_p50_ci"])
    p90 = truth.response_median_s * math.exp(truth.response_sigma * stats.norm.ppf(0.9))
    assert _within(p90, s["first_response_p90_s"], s["first_response_p90_ci"])
    within = truth.answer_share * stats.norm.cdf(math.log(600 / truth.response_median_s) / truth.response_sigma)
    assert _within(within, s["answered_within_10m_share"], s["answered_within_10m_ci"])
    go_on = truth.answer_share * (1 - truth.dm_share) * truth.follow_up_share
    assert _within(1 / (1 - go_on), s["turns_mean"], s["turns_mean_ci"])
    assert s["brand"] == "AcmeHelp" and sum(s["rows_rejected"].values()) == 6


def test_the_weekly_shape_is_recovered(tmp_path: Path) -> None:
    truth = BrandTruth("AcmeHelp", rate=30.0)
    generate_twcs(tmp_path / "twcs.csv", [truth], weeks=6, seed=5)
    cal = calibrate(read_history(str(tmp_path / "twcs.csv")), "AcmeHelp")
    profile = np.asarray(truth.profile) / np.mean(truth.profile) * truth.rate
    # Each hour-of-week rate is a Poisson mean over 6 weeks: within 4 standard errors.
    se = np.sqrt(profile / 6)
    assert np.all(np.abs(cal.volume - profile) < 4 * se + 1e-9)
    assert hour_of_week_rate(np.array([T0 + 1800.0]), T0, T0 + 3599.0)[0] == 1.0  # Monday 00:00


def test_messy_rows_are_counted_by_reason_and_nothing_crashes(tmp_path: Path) -> None:
    n = generate_twcs(tmp_path / "messy.csv", [BrandTruth("AcmeHelp", rate=10.0)], weeks=1, seed=2, messy=True)
    with open(tmp_path / "messy.csv", "a", encoding="utf-8") as f:
        f.write('99,"1","2"\n')  # a row with too few fields
    h = read_history(str(tmp_path / "messy.csv"))
    assert h.rows_read == n + 1
    s = calibrate(h, "AcmeHelp").summary
    rejected = s["rows_rejected"]
    for reason in ("tweet_id missing or not a number", "created_at not a twcs date", "inbound not True/False",
                   "author_id missing", "duplicate tweet_id", "malformed row (wrong number of fields)"):
        assert rejected.get(reason) == 1, (reason, rejected)
    assert rejected["reply whose parent is not in the history (kept as a thread root: cut at the edge)"] == 1
    assert s["rows_used"] == n - 5  # four bad rows and one repeat


def _to_x_v2(twcs: Path, out: Path, brand_id: str) -> None:
    import datetime as dt

    with open(twcs, encoding="utf-8") as f, open(out, "w", encoding="utf-8") as g:
        for r in csv.DictReader(f):
            when = dt.datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y")
            tweet = {"id": r["tweet_id"], "author_id": brand_id if r["inbound"] == "False" else r["author_id"],
                     "created_at": when.isoformat().replace("+00:00", "Z"), "text": r["text"],
                     "conversation_id": r["tweet_id"]}
            if "@AcmeHelp" in r["text"]:
                tweet["entities"] = {"mentions": [{"id": brand_id, "username": "AcmeHelp"}]}
            if r["in_response_to_tweet_id"]:
                tweet["referenced_tweets"] = [{"type": "replied_to", "id": r["in_response_to_tweet_id"]}]
            g.write(json.dumps({"data": tweet} if int(r["tweet_id"]) % 2 else tweet) + "\n")


def test_an_x_v2_export_gives_the_same_figures(tmp_path: Path) -> None:
    generate_twcs(tmp_path / "twcs.csv", [BrandTruth("AcmeHelp", rate=8.0)], weeks=1, seed=4)
    _to_x_v2(tmp_path / "twcs.csv", tmp_path / "tweets.jsonl", "777")
    a = calibrate(read_history(str(tmp_path / "twcs.csv")), "AcmeHelp").summary
    b = calibrate(read_history(str(tmp_path / "tweets.jsonl")), "777").summary
    c = calibrate(read_history(str(tmp_path / "tweets.jsonl"))).summary  # the brand found by itself
    for key in ("threads", "reply_pairs", "first_response_p50_s", "turns_mean", "dm_share"):
        assert a[key] == b[key] == c[key], key


def test_the_desks_own_database_is_a_history(tmp_path: Path) -> None:
    from chirpdesk.desk.config import DeskConfig
    from chirpdesk.desk.ingest import store_bodies
    from chirpdesk.desk.storage import open_storage
    from chirpdesk.desk.storage_base import Brand

    db = str(tmp_path / "desk.sqlite3")
    storage = open_storage(DeskConfig(db=db, secret="s"))
    storage.open()

    def tw(tid: int, author: str, at: float, text: str, reply_to: int | None = None) -> dict:
        return {"id_str": str(tid), "text": text, "created_at": _twcs_time(at), "timestamp_ms": str(int(at * 1000)),
                "user": {"id_str": author, "screen_name": "brand" if author == "9000" else f"u{author}",
                         "followers_count": 10},
                "in_reply_to_status_id_str": str(reply_to) if reply_to else None}

    events = []
    for k in range(40):
        t = T0 + 600.0 * k
        events += [tw(100 + 2 * k, str(500 + k), t, "@brand where is my parcel?"),
                   tw(101 + 2 * k, "9000", t + 60 + k, "@u sorry! DM us please", 100 + 2 * k)]
    bodies = [json.dumps({"for_user_id": "9000", "tweet_create_events": [e]}).encode() for e in events]
    try:
        store_bodies(storage, [(bodies, T0)], Brand("9000", "brand"), 10_000)
    finally:
        storage.close()
    s = calibrate(read_history(db, "desk")).summary
    assert s["threads"] == 40 and s["reply_pairs"] == 40
    assert s["first_response_p50_s"] == pytest.approx(np.median(60 + np.arange(40)))
    assert s["dm_share"] == 1.0
    with pytest.raises(ChirpdeskError, match="no such SQLite file"):
        read_history(str(tmp_path / "nothing.sqlite3"), "desk")


def test_the_command_writes_a_scenario_that_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_twcs(tmp_path / "twcs.csv", [BrandTruth("AcmeHelp", rate=12.0)], weeks=2, seed=6)
    out = tmp_path / "cal"
    assert main(["calibrate", str(tmp_path / "twcs.csv"), "--out", str(out)]) == 0
    assert "AcmeHelp:" in capsys.readouterr().out
    for name in ("calibration.json", "volume.csv", "first_responses.csv", "scenario.toml", "report.html"):
        assert (out / name).is_file(), name
    s = json.loads((out / "calibration.json").read_text())
    for key in ("brand", "rows_read", "rows_rejected", "threads", "reply_pairs", "response_rate",
                "first_response_p50_s", "first_response_p90_s", "answered_within_10m_share", "turns_mean",
                "dm_share", "window_start", "window_end"):
        assert key in s, key
    sc = load_scenario(out / "scenario.toml")
    assert sc.arrivals.base_rate * 3600 == pytest.approx(s["fitted"]["arrivals.base_rate_per_hour"]["value"], rel=1e-3)
    assert sc.mix.private_share == pytest.approx(s["dm_share"], abs=1e-4)
    assert np.mean(sc.arrivals.diurnal) == pytest.approx(1.0, abs=0.01)
    html = (out / "report.html").read_text()
    assert 'data-metric="first_response_p50_s"' in html and "What public tweets cannot tell" in html
    sim_out = tmp_path / "sim"
    assert main(["simulate", str(out / "scenario.toml"), "--out", str(sim_out), "--replications", "1",
                 "--no-report"]) == 0
    assert json.loads((sim_out / "summary.json").read_text())["metrics"]["tweets"]["mean"] > 0


def test_clear_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,who,when\n1,2,3\n")
    with pytest.raises(ChirpdeskError, match="missing column.*in_response_to_tweet_id"):
        read_history(str(bad))
    with pytest.raises(ChirpdeskError, match="no such file"):
        read_history(str(tmp_path / "none.csv"))
    h = read_history(str(_write(tmp_path / "t.csv", _threads(40))))
    with pytest.raises(ChirpdeskError, match=r"--brand: 'Nobody' has no tweets.*Acme \(120\)"):
        calibrate(h, "Nobody")
    with pytest.raises(ChirpdeskError, match=r"'Acmee' has no tweets.*closest: Acme;"):
        calibrate(h, "Acmee")
    with pytest.raises(ChirpdeskError, match="at least 30 are needed"):
        calibrate(read_history(str(_write(tmp_path / "few.csv", _threads(5)))), "Acme")
    with pytest.raises(ChirpdeskError, match="no thread starts in the window"):
        calibrate(h, "Acme", since=T0 + 10 * 86400)
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(ChirpdeskError, match="not a twcs.csv export: missing column"):
        read_history(str(binary))
    with pytest.raises(ChirpdeskError, match="--format: got 'xml'"):
        read_history(str(bad), "xml")


@pytest.mark.parametrize("args", [["--brand", "Nobody"], ["--since", "2030-01-01"], ["--since", "yesterday"]])
def test_command_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    history = _write(tmp_path / "t.csv", _threads(40))
    with pytest.raises(SystemExit) if args[-1] == "yesterday" else _no_raise() as caught:
        rc = main(["calibrate", str(history), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    if caught is not None and hasattr(caught, "value"):
        assert caught.value.code == 2 and "expected a date such as 2017-10-01" in err
        return
    assert rc == 2 and err.count("\n") == 1 and err.startswith("chirpdesk: error:"), err


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_without_a_brand_every_brand_is_benchmarked(tmp_path: Path) -> None:
    generate_twcs(tmp_path / "twcs.csv", [BrandTruth("AcmeHelp", rate=10.0), BrandTruth("OtherCo", rate=4.0,
                                          answer_share=0.5)], weeks=2, seed=8)
    assert main(["calibrate", str(tmp_path / "twcs.csv"), "--out", str(tmp_path / "o"), "--no-report"]) == 0
    with open(tmp_path / "o" / "brands.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["brand"] for r in rows] == ["AcmeHelp", "OtherCo"]  # most threads first
    h = read_history(str(tmp_path / "twcs.csv"))
    for r in rows:  # the same definitions as a calibration of that brand alone
        s = calibrate(h, r["brand"]).summary
        for key in ("threads", "reply_pairs", "customer_tweets"):
            assert int(r[key]) == s[key], key
        for key in ("response_rate", "first_response_p50_s", "first_response_p90_s", "answered_within_10m_share",
                    "turns_mean", "dm_share"):
            assert float(r[key]) == pytest.approx(s[key]), key
    assert float(rows[1]["response_rate"]) < float(rows[0]["response_rate"])


def test_quantile_interval_covers_as_stated() -> None:
    rng = np.random.default_rng(0)
    hits = sum(lo <= 1.0 <= hi for _, lo, hi in (quantile_interval(rng.exponential(1 / math.log(2), 200), 0.5)
                                                 for _ in range(400)))
    # 95% nominal (conservative: order statistics): binomial(400, 0.95) stays above 365.
    assert hits >= 365
