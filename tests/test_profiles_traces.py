"""Workload traces: restricted unpickling of the pinned artifact files and the project's formats."""

from __future__ import annotations

import datetime
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

from helix.artifact import traces as T
from helix.errors import HelixInputError


@pytest.fixture(scope="module")
def imported(artifact_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("traces")
    return T.import_traces(artifact_dir, out)


def test_lengths_and_means(imported, artifact_dir):
    inp, out = T.load_lengths(imported["lengths"])
    assert inp.dtype == np.int64 and len(inp) == len(out) == 16657
    assert round(inp.mean(), 2) == 763.08 and round(out.mean(), 2) == 232.45
    assert (inp.min(), inp.max(), out.min(), out.max()) == (7, 2047, 7, 1000)
    # index order kept: pair i of the Parquet file is pair i of the pickles
    raw = T.load_int_list_pickle(artifact_dir / T.LENGTH_FILES["input"])
    assert inp.tolist() == raw
    frame = T.load_lengths_frame(imported["lengths"])
    assert list(frame.columns) == ["input", "output"]


def test_arrivals(imported):
    counts = T.load_arrivals(imported["arrivals"])
    assert len(counts) == 1200 and round(counts.mean(), 4) == 13.8808
    assert counts.min() == 0 and counts.max() == 30
    assert imported["arrivals"].read_text().splitlines()[0] == "count"


def test_reimport_is_byte_identical(artifact_dir, imported, tmp_path):
    again = T.import_traces(artifact_dir, tmp_path)
    for key in ("lengths", "arrivals"):
        assert again[key].read_bytes() == imported[key].read_bytes()


@pytest.mark.parametrize(
    "obj,match",
    [
        (datetime.date(2020, 1, 1), "refusing to load global datetime.date"),
        ({"a": 1}, "not a plain pickled list of ints"),
        ([1, 2.5], "not a plain pickled list of ints"),
        ([1, True], "not a plain pickled list of ints"),
    ],
)
def test_restricted_unpickler_refuses(tmp_path, obj, match):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(HelixInputError, match=match):
        T.load_int_list_pickle(path)


class _Evil:
    def __reduce__(self):
        return (print, ("executed!",))


def test_code_in_a_pickle_is_never_run(tmp_path, capsys):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([1, _Evil()]))
    with pytest.raises(HelixInputError, match="refusing to load global builtins.print"):
        T.load_int_list_pickle(path)
    assert "executed!" not in capsys.readouterr().out


def _fake_artifact(artifact_dir, tmp_path):
    fake = tmp_path / "artifact"
    for rel in [*T.LENGTH_FILES.values(), T.ARRIVAL_FILE]:
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifact_dir / rel, fake / rel)
    return fake


def test_only_pinned_files_are_unpickled(artifact_dir, tmp_path):
    fake = _fake_artifact(artifact_dir, tmp_path)
    victim = fake / T.ARRIVAL_FILE
    victim.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(HelixInputError, match=rf"{victim}: sha256: not the pinned artifact's file"):
        T.import_traces(fake, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_artifact_file_names_path(artifact_dir, tmp_path):
    fake = _fake_artifact(artifact_dir, tmp_path)
    victim = fake / T.LENGTH_FILES["output"]
    victim.unlink()
    with pytest.raises(HelixInputError) as exc:
        T.import_traces(fake, tmp_path / "out")
    assert str(exc.value) == f"{victim}: artifact trace file not found"
    assert not (tmp_path / "out").exists()


def test_bad_project_files(tmp_path):
    with pytest.raises(HelixInputError, match="length trace not found"):
        T.load_lengths(tmp_path / "none.parquet")
    p = tmp_path / "l.parquet"
    pd.DataFrame({"input": [5, 6]}).to_parquet(p)
    with pytest.raises(HelixInputError, match=r"columns: missing column\(s\) \(got \['output'\]\)"):
        T.load_lengths(p)
    pd.DataFrame({"input": [5, 0], "output": [1, 2]}).to_parquet(p)
    with pytest.raises(HelixInputError, match="lengths must be positive"):
        T.load_lengths(p)
    a = tmp_path / "a.csv"
    a.write_text("count\n3\n-1\n")
    with pytest.raises(HelixInputError, match="count: counts must be non-negative integers"):
        T.load_arrivals(a)
    a.write_text("n\n3\n")
    with pytest.raises(HelixInputError, match="missing column 'count'"):
        T.load_arrivals(a)
