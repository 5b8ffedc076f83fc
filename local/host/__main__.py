"""``python -m local.host --project DIR --port N``: run the development host."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
