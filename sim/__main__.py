"""``python -m chirpdesk.sim`` runs the ``chirpdesk`` command line."""

import sys

from chirpdesk.sim.cli import main

sys.exit(main())
