"""The benchmarks are run by hand, so nothing else would notice one that no longer starts
(an import moved, a name renamed): each must still load everything it imports and explain
its options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every bench run from the command line, by its arguments; its helpers (databases.py,
# people.py) are imported by these.
BENCHES = sorted(path.name for path in (ROOT / "bench").glob("*.py")
                 if "argparse" in path.read_text(encoding="utf-8")
                 and path.name != "pkpass_http.py")  # run as pkpass.py --http, below
COMMANDS = [[name] for name in BENCHES] + [["pkpass.py", "--http"]]


def test_the_list_holds_every_bench_run_by_hand() -> None:
    assert {"dataset.py", "pkpass.py", "push.py", "scale.py", "pos.py"} <= set(BENCHES)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_bench_still_starts_and_explains_its_options(command: list[str]) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / command[0]), *command[1:],
                           "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
