"""The chunk cache is keyed on content and checksummed (#13 item 7).

A data file replaced by one of the same size with its modification time restored (``cp -p``,
``rsync -a``) used to be trained on from the stale cache; edited cache ``.npy`` files were
used unchecked. The key is now the files' sha256, and each entry is checked as it is read: a
damaged one is reported and the pass reads the source instead, so the result is always the
fit of the data as they are.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from torchlogit import LogisticRegression
from torchlogit.data import CSVSource


def _close(got, want):
    # a chunk served from the cache is C-ordered where the decoded one is column-major: the
    # sums agree to the last bits, not bit for bit (as before this change)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def _write(path, flip: bool, n=8000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = (X @ [2.0, -1.0, 0.5] + 0.3 * rng.logistic(size=n) > 1.5).astype(int)  # unbalanced
    if flip:
        y = 1 - y  # the same number of bytes, other labels
    rows = [f"{r[0]:.6f},{r[1]:.6f},{r[2]:.6f},{t}" for r, t in zip(X, y, strict=True)]
    lines = ["a,b,c,label", *rows]
    path.write_text("\n".join(lines) + "\n")


def _fit(path, cache=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        src = CSVSource(path, target="label", chunk_rows=64, cache_dir=cache)
        return LogisticRegression(solver="lbfgs", tol=1e-10, **kw).fit(src)


def _same_size_same_mtime(path, tmp_path):
    """Replace ``path`` as ``cp -p`` would: other content, same size, mtime restored."""
    st = os.stat(path)
    other = tmp_path / "other.csv"
    _write(other, flip=True)
    assert os.path.getsize(other) == st.st_size
    shutil.copyfile(other, path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_file_replaced_with_same_size_and_mtime_does_not_read_the_stale_cache(tmp_path):
    data, cache = tmp_path / "d.csv", tmp_path / "cache"
    _write(data, flip=False)
    first = _fit(data, cache)
    assert _fit(data, cache).passes_[0]["from_cache"]
    _same_size_same_mtime(data, tmp_path)
    got = _fit(data, cache)
    want = _fit(data)
    assert not got.passes_[0]["from_cache"]
    _close(got.coef_, want.coef_)
    assert np.sign(got.coef_[0, 0]) == -np.sign(first.coef_[0, 0])


def test_same_source_object_sees_a_same_size_same_mtime_rewrite(tmp_path):
    # the validation summary (class counts: the balanced weights) must be redone too
    data = tmp_path / "d.csv"
    _write(data, flip=False)
    src = CSVSource(data, target="label", chunk_rows=64)
    est = LogisticRegression(solver="lbfgs", tol=1e-10, class_weight="balanced")
    first = est.fit(src).coef_.copy()
    _same_size_same_mtime(data, tmp_path)
    again = est.fit(src).coef_
    _close(again, _fit(data, class_weight="balanced").coef_)
    assert np.sign(again[0, 0]) == -np.sign(first[0, 0])


def _cached(tmp_path):
    data, cache = tmp_path / "d.csv", tmp_path / "cache"
    _write(data, flip=False)
    _fit(data, cache)
    (entry,) = [p for p in cache.iterdir() if p.is_dir()]
    return data, cache, entry


def test_edited_cache_entry_is_detected_and_the_source_read(tmp_path):
    data, cache, entry = _cached(tmp_path)
    f = entry / "chunk0000001.X.npy"
    X = np.load(f)
    X[3, 0] += 100.0  # a valid .npy file with other values
    np.save(f, X)
    with pytest.warns(UserWarning, match=r"chunk0000001\.X\.npy' is damaged"):
        got = _fit(data, cache)
    _close(got.coef_, _fit(data).coef_)
    assert _fit(data, cache).passes_[0]["from_cache"]  # rewritten: used again


@pytest.mark.parametrize("damage", ["truncate", "remove", "manifest"])
def test_truncated_or_missing_entries_and_edited_manifest(tmp_path, damage):
    data, cache, entry = _cached(tmp_path)
    if damage == "truncate":
        f = entry / "chunk0000000.y.npy"
        f.write_bytes(f.read_bytes()[:-5])
    elif damage == "remove":
        (entry / "chunk0000002.w.npy").unlink()
    else:
        m = entry / "manifest.json"
        info = json.loads(m.read_text())
        info["chunks"] -= 1
        m.write_text(json.dumps(info))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        got = _fit(data, cache)
    _close(got.coef_, _fit(data).coef_)


def test_cache_that_cannot_be_finished_is_a_warning(tmp_path, monkeypatch):
    import pathlib

    data = tmp_path / "d.csv"
    _write(data, flip=False)
    real = pathlib.Path.write_text

    def full(self, *a, **k):
        if self.name == "manifest.tmp":
            raise OSError(28, "No space left on device")
        return real(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    with pytest.warns(UserWarning, match="chunk cache not completed: .*No space left"):
        got = _fit(data, tmp_path / "cache")
    _close(got.coef_, _fit(data).coef_)
    assert not list((tmp_path / "cache").rglob("manifest*"))
