"""`python -m local.simulator`: the same as `cvdsr simulate`."""

from local.simulator.cli import main

raise SystemExit(main())
