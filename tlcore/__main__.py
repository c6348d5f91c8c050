"""``python -m tlcore``: see :mod:`tlcore.cli`."""

import sys

from .cli import main

sys.exit(main())
