"""The README as a user pastes it (issue #12): every Python block runs on its own (a fresh
namespace, as pasted into a new interpreter), and every shell block that can run
offline runs exactly as written, in a temporary folder holding the files the README names
(``train.csv``, ``new.parquet``, ``test.csv``, ``data/``). ``torchlogit`` in a shell block is
this interpreter's ``python -m torchlogit`` (the same code as the console script). Blocks that
install packages or need ``torchrun`` / several machines are skipped with the reason."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w+)\n(.*?)```", README, re.S)]


def _skip_reason(lang: str, code: str) -> str | None:
    if "pip install" in code:
        return "installs packages into the environment (.ci/run runs it)"
    if "torchrun" in code or "init_process_group" in code:
        return "needs torchrun and a process group (tests/test_distributed_torchrun.py)"
    return None


def _data_files(folder: Path) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["label"] = np.where(X @ [1.5, -1.0, 0.5] + rng.logistic(size=400) > 0, "yes", "no")
    df.iloc[:300].to_csv(folder / "train.csv", index=False)
    df.iloc[300:].to_csv(folder / "test.csv", index=False)
    df.iloc[300:].drop(columns="label").to_parquet(folder / "new.parquet", index=False)
    (folder / "data").mkdir()
    for k in range(2):
        df.iloc[k * 200 : (k + 1) * 200].to_parquet(folder / "data" / f"part-{k}.parquet")


def test_readme_has_the_blocks_this_test_expects():
    langs = [lang for lang, _ in BLOCKS]
    assert langs.count("python") >= 5 and langs.count("bash") >= 4
    assert all(lang in ("python", "bash") for lang in langs)


def test_readme_blocks_run_as_written(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    _data_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    env.pop("TORCHLOGIT_TRACEBACK", None)
    shell_prefix = f'torchlogit() {{ "{sys.executable}" -m torchlogit "$@"; }}\nset -e\n'
    namespaces = []
    ran, skipped = 0, []
    for i, (lang, code) in enumerate(BLOCKS):
        reason = _skip_reason(lang, code)
        if reason:
            skipped.append((i, reason))
            continue
        if lang == "python":
            namespaces.append({"__name__": "__readme__"})
            exec(compile(code, f"README.md block {i}", "exec"), namespaces[-1])  # noqa: S102
        else:
            done = subprocess.run(["bash", "-c", shell_prefix + code], env=env, text=True,
                                  capture_output=True, timeout=600)  # fmt: skip
            assert done.returncode == 0, f"block {i}:\n{code}\n{done.stdout}\n{done.stderr}"
        ran += 1
    assert ran >= 5 and len(skipped) <= 6, skipped
    # what the blocks claim
    assert any(ns.get("layer") is not None for ns in namespaces)  # the model-files block
    assert (tmp_path / "model.onnx").exists() and (tmp_path / "predictions.csv").exists()
    assert (tmp_path / "report" / "index.html").exists()


def test_sparse_example_uses_the_fast_sampler():
    (code,) = [c for lang, c in BLOCKS if lang == "python" and "sp.random" in c]
    assert "rng=np.random.default_rng(0)" in code and "random_state=0" not in code


def test_model_files_example_imports_what_it_uses():
    (code,) = [c for lang, c in BLOCKS if lang == "python" and "to_torch" in c]
    assert "import torch\n" in code


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"^pip install .*python -m pytest.*$", README, re.M)
    assert commands, "the README has no test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci


def _third_party_imports() -> set[str]:
    import ast

    names = set()
    for path in (ROOT / "src" / "torchlogit").rglob("*.py"):
        if path.name == "_onnx.py":  # ONNX export: the "onnx" extra
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "torchlogit"}


def test_plain_install_has_what_the_code_imports():
    """``pip install torchlogit`` alone runs the command line, model files and the report:
    every third-party module the package imports (ONNX export aside) is a base dependency."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in project["dependencies"]}
    distribution = {"sklearn": "scikit-learn"}
    missing = sorted(
        m for m in _third_party_imports() if distribution.get(m, m).lower() not in base
    )
    assert missing == [], f"imported but not in [project] dependencies: {missing}"
    extras = project["optional-dependencies"]
    assert set(extras) == {"onnx", "bench", "dev"}


def _section_blocks(title: str) -> list[str]:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"no section {title!r} in the README"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def test_the_bounds_section_keeps_the_signs_it_promises():
    (block,) = _section_blocks("Bounds")
    namespace: dict = {}
    exec(compile(block, "README.md (Bounds)", "exec"), namespace)  # noqa: S102
    coef = namespace["clf"].coef_[0]
    assert coef[0] >= 0 and coef[2] >= 0
