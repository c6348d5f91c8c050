"""``python -m tlcore``: see :mod:`tlcore.cli`."""

import sys

from tlcore.cli.main import main

sys.exit(main())
