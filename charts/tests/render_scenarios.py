"""Render every test scenario of the chart into DIR/<scenario>.yaml (for yamllint in run.sh).

Usage: python charts/tests/render_scenarios.py DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chartlib  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__ or "")
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, values in chartlib.SCENARIOS.items():
        text = chartlib.manifests_text(chartlib.render_raw(values))
        (out / f"{name}.yaml").write_text(text)
    sys.stderr.write(f"rendered {len(chartlib.SCENARIOS)} scenarios into {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
