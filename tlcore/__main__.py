"""``python -m tlcore``: see :mod:`tlcore.cli.main`."""

import sys

from tlcore.cli.main import main

sys.exit(main())
