"""The gridshift command line (Typer). Talks to the API or runs local tools."""
