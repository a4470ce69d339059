"""``python -m gridshift`` runs the CLI."""

from gridshift.cli.main import entry

entry()
