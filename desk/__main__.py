"""``python -m chirpdesk.desk ...``: the desk's subcommands without the rest of the chirpdesk CLI."""

from __future__ import annotations

import sys

from chirpdesk.desk.cli import main

if __name__ == "__main__":
    sys.exit(main())
