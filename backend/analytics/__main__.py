"""``python -m backend.analytics``: load, detect, report, export (``--help`` for each)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
