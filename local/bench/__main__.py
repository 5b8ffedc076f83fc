"""``python -m local.bench``: the benchmark without the ``cvdsr`` command, and the entry point of its two
worker processes (the copy floor and the SDK baseline start ``python -m local.bench --…-worker``)."""

import sys

from local.bench.cli import main

sys.exit(main())
