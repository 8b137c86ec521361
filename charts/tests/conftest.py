"""pytest setup: make the shared helpers of charts/tests importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
