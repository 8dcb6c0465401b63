"""Profile store: the s2.4 lookup rule, the project CSV format, the artifact import and bad input."""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest

from helix.errors import HelixInputError
from helix.profiles.store import (
    ARTIFACT_GPU_TYPES,
    ARTIFACT_MODEL_DIRS,
    LayerProfile,
    ProfileStore,
    ProfileTable,
    canonical_gpu,
    import_profile,
    import_profiles,
    write_profile,
)


@pytest.fixture(scope="module")
def art_store(artifact_dir) -> ProfileStore:
    return ProfileStore.from_artifact(artifact_dir)


# ---- the lookup rule (docs/design/simulator.md s2.4) ----------------------------------------------


def test_lookup_rule_exact_interpolated_and_out_of_grid():
    t = ProfileTable((0, 10, 20, 40), (0.0, 1.0, 3.0, 2.0))
    assert t(0) == 0.0
    assert t(10) == 1.0  # grid point: its value
    assert t(15) == 2.0  # halfway between 1 and 3
    assert t(12.5) == pytest.approx(1.5)
    assert t(30) == 2.5  # a dip (times need not be monotone) still interpolates
    assert t(40) == 2.0  # last grid point is inside
    with pytest.raises(HelixInputError, match="outside the profiled grid"):
        t(40.5)
    with pytest.raises(HelixInputError, match="outside the profiled grid"):
        t(-1)


def test_vectorised_lookup_equals_scalar(art_store):
    rng = random.Random(0)
    for model in ARTIFACT_MODEL_DIRS:
        for gpu in ARTIFACT_GPU_TYPES:
            p = art_store.get(model, gpu)
            for table in (p.prompt, p.decode):
                xs = [rng.randint(0, table.max_tokens) for _ in range(200)] + list(table.tokens)
                xs += [rng.uniform(0, table.max_tokens) for _ in range(50)]
                vec = table.many(xs)
                assert vec.tolist() == [table(x) for x in xs]
    with pytest.raises(HelixInputError, match="outside"):
        p.decode_times(np.array([1, p.decode.max_tokens + 1]))


def test_artifact_values_are_milliseconds_converted(art_store):
    p = art_store.get("llama70b", "A100")
    assert isinstance(p, LayerProfile)
    assert p.decode_time(2) == pytest.approx(1.4e-3)  # decode_bs2time.csv row "2,1.4"
    assert p.prompt_time(250) == pytest.approx(2e-3)  # prompt_bs2time.csv row "250,2"
    assert p.prompt_time(375) == pytest.approx(3e-3)  # halfway between 2 ms and 4 ms
    assert p.prompt.max_tokens == 11250 and p.decode.max_tokens == 800
    # the artifact's measured grid has a dip (2.5 ms at 100 tokens, 2.0 ms at 120): kept as is
    assert p.decode_time(100) > p.decode_time(120)
    assert art_store.get("llama70b", "A100") is p  # cached


def test_gpu_names_and_model_mapping(art_store):
    assert canonical_gpu("l4x2") == "L4x2" and canonical_gpu("t4x4") == "T4x4"
    assert art_store.profile_dir("llama30b", "L4x2").parts[-2:] == ("llama1_30b", "l4x2")
    assert art_store.has("llama30b", "T4x4") and not art_store.has("llama30b", "H100")
    assert not art_store.has("tiny-x", "A100")
    assert art_store.pairs() == sorted((m, g) for m in ARTIFACT_MODEL_DIRS for g in ARTIFACT_GPU_TYPES)


# ---- import round trip --------------------------------------------------------------------------------


def test_import_round_trip(artifact_dir, art_store, tmp_path):
    written = import_profiles(artifact_dir, tmp_path)
    assert len(written) == len(ARTIFACT_MODEL_DIRS) * len(ARTIFACT_GPU_TYPES)
    project = ProfileStore(tmp_path)
    assert project.pairs() == art_store.pairs()
    for model in ARTIFACT_MODEL_DIRS:
        for gpu in ARTIFACT_GPU_TYPES:
            assert project.get(model, gpu) == art_store.get(model, gpu), (model, gpu)
    d = tmp_path / "llama30b" / "l4x2"
    lines = (d / "prompt.csv").read_text().splitlines()
    assert lines[0] == "tokens,seconds" and lines[1] == "0,0"
    meta = json.loads((d / "meta.json").read_text())
    assert meta["source"] == "artifact" and meta["gpu"] == "L4x2" and meta["model"] == "llama30b"
    assert meta["artifact_files"][0] == "simulator/model_manager/llama1_30b/l4x2/prompt_bs2time.csv"
    # re-import is byte-identical (no timestamps)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    import_profile(artifact_dir, "llama30b", "L4x2", d)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_measured_profile_drops_in(tmp_path):
    t = ProfileTable((0, 100, 200), (0.0, 0.01, 0.03))
    write_profile(tmp_path / "tiny-a" / "h100", LayerProfile("tiny-a", "H100", t, t), {"source": "measured"})
    assert ProfileStore(tmp_path).pairs() == [("tiny-a", "H100")]
    p = ProfileStore(tmp_path).get("tiny-a", "H100")
    assert p.meta["source"] == "measured" and p.decode_time(150) == pytest.approx(0.02)
    with pytest.raises(HelixInputError, match="meta.source"):
        write_profile(tmp_path / "x", LayerProfile("x", "H100", t, t), {"source": "guessed"})


# ---- bad input ------------------------------------------------------------------------------------------


def _project_profile(tmp_path, prompt_text, decode_text="tokens,seconds\n0,0\n2,0.001\n", meta=None):
    d = tmp_path / "m" / "a100"
    d.mkdir(parents=True)
    (d / "prompt.csv").write_text(prompt_text)
    (d / "decode.csv").write_text(decode_text)
    (d / "meta.json").write_text(json.dumps(meta or {"source": "measured"}))
    return ProfileStore(tmp_path), d


def test_missing_profile_names_path(tmp_path, art_store):
    with pytest.raises(HelixInputError, match=r"m/h100: no profile for model 'm' on GPU 'H100'"):
        ProfileStore(tmp_path).get("m", "H100")
    with pytest.raises(HelixInputError, match="llama2_70b/h100"):
        art_store.get("llama70b", "H100")
    with pytest.raises(HelixInputError, match="no artifact profiles for this model"):
        art_store.get("tiny-x", "A100")
    with pytest.raises(HelixInputError, match="profile directory not found"):
        ProfileStore(tmp_path / "nowhere")


def test_negative_time_names_file_and_row(tmp_path):
    store, d = _project_profile(tmp_path, "tokens,seconds\n0,0\n250,0.002\n500,-0.004\n")
    with pytest.raises(HelixInputError) as exc:
        store.get("m", "A100")
    msg = str(exc.value)
    assert str(d / "prompt.csv") in msg and "line 4" in msg and "-0.004" in msg and "\n" not in msg


def test_non_monotone_tokens_names_file_and_row(tmp_path):
    store, d = _project_profile(tmp_path, "tokens,seconds\n0,0\n500,0.002\n250,0.004\n")
    with pytest.raises(
        HelixInputError,
        match=r"prompt.csv: line 4: tokens must be strictly increasing \(previous 500\) \(got '250'\)",
    ):
        store.get("m", "A100")


@pytest.mark.parametrize(
    "text,match",
    [
        ("tokens,ms\n0,0\n2,1\n", "expected header"),
        ("tokens,seconds\n1,0\n2,1\n", "line 2: the first row must be 0,0"),
        ("tokens,seconds\n0,0\n2,abc\n", "line 3: not a number"),
        ("tokens,seconds\n0,0\n2.5,0.1\n", "line 3: tokens must be a non-negative integer"),
        ("tokens,seconds\n0,0\n", "at least two rows"),
    ],
)
def test_malformed_csv(tmp_path, text, match):
    store, _ = _project_profile(tmp_path, text)
    with pytest.raises(HelixInputError, match=match):
        store.get("m", "A100")


def test_bad_meta(tmp_path):
    store, _ = _project_profile(tmp_path, "tokens,seconds\n0,0\n2,0.1\n", meta={"source": "guess"})
    with pytest.raises(HelixInputError, match=r"meta.json: source: must be one of"):
        store.get("m", "A100")


def _copy_profiles(artifact_dir, tmp_path):
    fake = tmp_path / "artifact"
    shutil.copytree(artifact_dir / "simulator" / "model_manager", fake / "simulator" / "model_manager")
    return fake


def test_import_missing_artifact_or_file_leaves_no_output(artifact_dir, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(HelixInputError, match="artifact directory not found"):
        import_profiles(tmp_path / "no-artifact", out)
    with pytest.raises(HelixInputError, match="lacks the profile directory"):
        import_profiles(tmp_path, out)
    fake = _copy_profiles(artifact_dir, tmp_path)
    victim = fake / "simulator/model_manager/llama1_30b/t4x4/decode_bs2time.csv"
    victim.chmod(0o644)
    victim.unlink()
    with pytest.raises(HelixInputError) as exc:
        import_profiles(fake, out)
    assert f"{victim}: profile file not found" == str(exc.value)
    assert not out.exists()  # validated everything before writing anything


def test_import_negative_artifact_time(artifact_dir, tmp_path):
    fake = _copy_profiles(artifact_dir, tmp_path)
    victim = fake / "simulator/model_manager/llama2_70b/l4/prompt_bs2time.csv"
    victim.chmod(0o644)
    rows = victim.read_text().splitlines()
    rows[4] = rows[4].split(",")[0] + ",-3"
    victim.write_text("\n".join(rows) + "\n")
    with pytest.raises(
        HelixInputError, match=rf"{victim}: line 5: time must be a finite non-negative number"
    ):
        import_profiles(fake, tmp_path / "out")
    assert not (tmp_path / "out").exists()
