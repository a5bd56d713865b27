"""Subcommands of the ``chirpdesk`` CLI, one module each."""
