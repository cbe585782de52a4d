"""``python -m fleetscale``."""

import sys

from fleetscale.cli import main

sys.exit(main())
