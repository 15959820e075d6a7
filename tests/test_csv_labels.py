"""CSV labels are read as written (#13 item 9).

Inferring the target's type merged classes: ``"1"`` and ``"01"`` became one class, ``"007"``
became 7, and ``"None"`` was a class rather than a missing label. ``target_type="auto"`` now
keeps the text unless every distinct value is a canonical number; ``"int"`` / ``"float"`` /
``"str"`` say it explicitly (the command line's ``--target-type``).
"""

from __future__ import annotations

import numpy as np
import pytest

from torchlogit import LogisticRegression
from torchlogit.data import CSVSource


def _write(path, labels, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((len(labels), 2))
    rows = [f"{a:.6f},{b:.6f},{t}" for (a, b), t in zip(X, labels, strict=True)]
    path.write_text("\n".join(["a,b,label", *rows]) + "\n")
    return path


def _classes(path, **kw):
    return (
        LogisticRegression(max_iter=20)
        .fit(CSVSource(path, target="label", chunk_rows=16, **kw))
        .classes_
    )


def test_one_and_zero_one_are_two_classes(tmp_path):
    path = _write(tmp_path / "d.csv", ["1", "01", "2"] * 40)
    assert _classes(path).tolist() == ["01", "1", "2"]


def test_leading_zeros_are_kept(tmp_path):
    path = _write(tmp_path / "d.csv", ["007", "8", "9"] * 40)
    assert _classes(path).tolist() == ["007", "8", "9"]


def test_none_is_a_missing_label(tmp_path):
    labels = ["a", "b"] * 40
    labels[33] = "None"
    path = _write(tmp_path / "d.csv", labels)
    with pytest.raises(ValueError, match=r"d.csv', line 35, column 'label': missing target"):
        _classes(path)


def test_canonical_numbers_stay_numbers(tmp_path):
    ints = _classes(_write(tmp_path / "i.csv", ["-1", "0", "10", "9"] * 30))
    assert ints.dtype.kind == "i" and ints.tolist() == [-1, 0, 9, 10]
    floats = _classes(_write(tmp_path / "f.csv", ["0.5", "1.0"] * 30))
    assert floats.dtype.kind == "f" and floats.tolist() == [0.5, 1.0]
    bools = _classes(_write(tmp_path / "b.csv", ["True", "False"] * 30))
    assert bools.dtype.kind == "b" and bools.tolist() == [False, True]


def test_explicit_target_type(tmp_path):
    path = _write(tmp_path / "d.csv", ["1", "01", "2"] * 40)
    assert _classes(path, target_type="int").tolist() == [1, 2]
    assert _classes(path, target_type="float").tolist() == [1.0, 2.0]
    assert _classes(_write(tmp_path / "s.csv", ["0", "1"] * 40), target_type="str").tolist() == [
        "0",
        "1",
    ]
    with pytest.raises(ValueError, match=r"line 4, column 'label': 'x' is not a number"):
        _classes(_write(tmp_path / "x.csv", ["1", "2", "x"] * 40), target_type="int")
    with pytest.raises(ValueError, match="target_type must be one of"):
        CSVSource(path, target="label", target_type="bytes")


def test_auto_labels_survive_a_second_pass_and_the_cache(tmp_path):
    path = _write(tmp_path / "d.csv", ["1", "01", "2"] * 40)
    src = CSVSource(path, target="label", chunk_rows=16, cache_dir=tmp_path / "cache")
    first = LogisticRegression().fit(src)
    again = LogisticRegression().fit(src)
    fresh = LogisticRegression().fit(
        CSVSource(path, target="label", chunk_rows=16, cache_dir=tmp_path / "cache")
    )
    assert fresh.passes_[0]["from_cache"]
    for est in (again, fresh):
        assert est.classes_.tolist() == ["01", "1", "2"]
        # cached chunks are C-ordered: the same fit to the last bits, not bit for bit
        np.testing.assert_allclose(est.coef_, first.coef_, rtol=1e-12, atol=1e-14)


def test_ranks_reading_labels_as_text_and_numbers_are_refused():
    from torchlogit.data._prepare import global_classes

    # rank 0's shard held only canonical integers, rank 1's kept "01" as text: NumPy would
    # turn 1 into "1" and encode rank 0's labels against the wrong classes
    with pytest.raises(ValueError, match="every rank must use the same label type"):
        global_classes([np.array([1, 2]), np.array(["01", "2"])])
    assert global_classes([np.array([1, 2]), np.array([2.0, 3.0])]).tolist() == [1, 2, 3]
    assert global_classes([np.array(["a"]), np.array(["b"], dtype=object)]).tolist() == ["a", "b"]


def test_cli_in_memory_keeps_labels_as_written(tmp_path):
    """``torchlogit fit`` reading the CSV into memory decides the labels' type as the streaming
    source does: "1", "01" and "007" stay three classes (#13 item 9)."""
    import subprocess
    import sys

    import torchlogit

    rng = np.random.default_rng(0)
    rows = [f"{rng.normal():.3f},{rng.normal():.3f},{['1', '01', '007'][i % 3]}" for i in range(60)]
    (tmp_path / "t.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    for extra in ([], ["--chunk-rows", "20"]):
        out = tmp_path / f"m{len(extra)}.safetensors"
        done = subprocess.run(
            [sys.executable, "-m", "torchlogit", "fit", str(tmp_path / "t.csv"), "--target",
             "label", "--out", str(out), "-q", *extra],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert sorted(map(str, torchlogit.load(out).classes_)) == ["007", "01", "1"]
