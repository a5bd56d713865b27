"""The analysis refuses a run whose sending processes did not all leave their records (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chirpdesk.loadtests.report import check_senders
from chirpdesk.sim.errors import ChirpdeskError


def _run(tmp_path: Path, pids: list[int], *, written: list[int], acknowledged: bool = True,
         processes_file: bool = True) -> list[dict]:
    folder = tmp_path / "loadgen"
    folder.mkdir()
    workers, metas = [], []
    for index, pid in enumerate(pids):
        records, meta_name = f"records-h-{pid}.csv", f"meta-h-{pid}.json"
        workers.append({"index": index, "client_id": f"h_{index}", "acknowledged": acknowledged, "pid": pid,
                        "records": records, "meta": meta_name})
        if pid in written:
            meta = {"t0": 1.0, "run_id": 123456, "index": index, "count": len(pids), "dispatcher": True, "pid": pid}
            (folder / records).write_text("name\n")
            (folder / meta_name).write_text(json.dumps(meta))
            metas.append(meta)
    if processes_file:
        doc = {"t0": 1.0, "run_id": 123456, "count": len(pids), "expected": len(pids), "workers": workers}
        (folder / "processes.json").write_text(json.dumps(doc))
    return metas


def test_every_process_wrote_its_records(tmp_path: Path) -> None:
    assert check_senders(tmp_path, _run(tmp_path, [11, 12], written=[11, 12]), 2) == []


def test_a_missing_worker_file_is_named(tmp_path: Path) -> None:
    metas = _run(tmp_path, [11, 12], written=[11])
    with pytest.raises(ChirpdeskError, match=r"process 2/2 .*pid 12.*records-h-12\.csv"):
        check_senders(tmp_path, metas, 2)


def test_an_unacknowledged_set_up_fails(tmp_path: Path) -> None:
    metas = _run(tmp_path, [11, 12], written=[11], acknowledged=False)
    with pytest.raises(ChirpdeskError, match="never acknowledged"):
        check_senders(tmp_path, metas, 2)


def test_without_the_masters_assignment_missing_indices_are_named(tmp_path: Path) -> None:
    metas = _run(tmp_path, [11, 12], written=[11], processes_file=False)
    with pytest.raises(ChirpdeskError, match="processes.json"):
        check_senders(tmp_path, metas, 2)
    with pytest.raises(ChirpdeskError, match=r"no records from sending process\(es\) 2/2"):
        check_senders(tmp_path, metas, 1)


def test_a_single_local_process(tmp_path: Path) -> None:
    assert check_senders(tmp_path, _run(tmp_path, [11], written=[11], processes_file=False), 1) == []
