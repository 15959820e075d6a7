"""The report in a real browser (headless Chromium): every image loads and nothing overflows
sideways, on a desktop-wide and a phone-wide window, for a binary model evaluated held-out
beside its training data, a binary model on data holding one class, and a 10-class model.
Skips, saying why, only where no Chromium is installed (.ci/run installs it)."""

import html
import json
import re
import shutil
import subprocess

import pytest

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on this machine (.ci/run: apt-get install chromium)"
)

# Runs after every image has loaded (or failed), then writes its findings into the DOM, which
# --dump-dom prints. Content inside a .scroll box may be wider than the page: it scrolls there.
CHECK = """<script>
window.addEventListener("load", () => {
  const doc = document.documentElement;
  const images = [...document.images].map(
      i => ({src: i.getAttribute("src"), ok: i.complete && i.naturalWidth > 0}));
  const wide = [...document.body.querySelectorAll("*")]
      .filter(e => !e.closest(".scroll") && e.getBoundingClientRect().right > doc.clientWidth + 1)
      .map(e => e.tagName + "." + e.className).slice(0, 5);
  const out = document.createElement("pre");
  out.id = "check-result";
  out.textContent = JSON.stringify(
      {images, wide, scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth});
  document.body.appendChild(out);
});
</script>"""


def _render(folder, width):
    page = (folder / "index.html").read_text(encoding="utf-8")
    check = folder / "_check.html"
    check.write_text(page.replace("</body>", CHECK + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={width},1000", "--virtual-time-budget=20000", "--dump-dom",
         check.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    m = re.search(r'<pre id="check-result">(.*?)</pre>', done.stdout, re.S)
    assert m, f"no result from chromium: {done.stderr[-2000:]}"
    check.unlink()
    return json.loads(html.unescape(m.group(1)))


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    from sklearn.datasets import load_breast_cancer, load_digits

    from torchlogit import LogisticRegression
    from torchlogit.inspection import write_report

    root = tmp_path_factory.mktemp("reports")
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(axis=0)) / Xb.std(axis=0)
    binary = LogisticRegression(C=0.5).fit(Xb[::2], yb[::2])
    write_report(binary, Xb[1::2], yb[1::2], root / "binary", data_name="test half",
                 in_sample=False, train=(Xb[::2], yb[::2], "train half"))  # fmt: skip
    one = yb[1::2] == 1
    write_report(binary, Xb[1::2][one], yb[1::2][one], root / "one_class", in_sample=False)
    Xd, yd = load_digits(return_X_y=True)
    digits = LogisticRegression(C=0.05, max_iter=200).fit(Xd / 16, yd)
    write_report(digits, Xd / 16, yd, root / "digits", data_name="digits", in_sample=True)
    return root


@pytest.mark.parametrize("name", ["binary", "one_class", "digits"])
@pytest.mark.parametrize("width", [1280, 390])
def test_report_renders_in_chromium(reports, name, width):
    result = _render(reports / name, width)
    assert result["images"], "the page has no images"
    broken = [i["src"] for i in result["images"] if not i["ok"]]
    assert broken == [], f"images that did not load: {broken}"
    assert result["scrollWidth"] <= result["clientWidth"], result
    assert result["wide"] == [], f"elements wider than the window: {result['wide']}"


def test_one_class_report_has_placeholders_not_empty_plots(reports):
    page = (reports / "one_class" / "index.html").read_text()
    assert "ROC curve: not drawn" in page and "only class 1" in page
    assert not (reports / "one_class" / "roc.png").exists()
    assert "n/a (class 0 absent)" in page and ">nan<" not in page
