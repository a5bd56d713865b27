"""``python -m sim`` runs the ``chirpdesk`` command line."""

import sys

from sim.cli import main

sys.exit(main())
