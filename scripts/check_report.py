"""Open a `glanc report` page in a real browser (headless Chromium) and check it.

The page must render offline: Chromium loads it from the file system with the
network off, and the rendered DOM must hold every plot as an SVG and the
embedded report data. A screenshot is written beside the page for a human look.

    python scripts/check_report.py .glanc/reports/science.html
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PLOTS = ("rows_per_subject", "drop_reasons", "lengths", "mix")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    sys.exit("no Chromium found: apt-get install chromium")


def main(page: Path) -> int:
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        common = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                  f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",  # no network
                  "--window-size=1100,2400"]  # fmt: skip
        dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True,
                             timeout=120).stdout  # fmt: skip
        shot = page.with_suffix(".png")
        subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    problems = []
    for plot in PLOTS:
        if not re.search(rf'<figure id="{plot}">.*?<svg', dom, re.S):
            problems.append(f"plot {plot} did not render as SVG")
    data = re.search(r'id="report-data">(.*?)</script>', dom, re.S)
    if data is None:
        problems.append("no report data in the rendered page")
    else:
        rows = json.loads(data.group(1))["rows"]
        print(f"{page}: rendered {len(PLOTS)} plots, report data for {rows} rows; "
              f"screenshot {shot}")
    for problem in problems:
        print(f"{page}: {problem}", file=sys.stderr)
    return 1 if problems or not shot.exists() else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
