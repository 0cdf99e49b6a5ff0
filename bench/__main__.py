"""``python -m bench`` from the checkout's root (what `python3 dev.py bench` runs)."""

import sys

from bench.run import main

sys.exit(main())
