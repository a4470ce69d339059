"""Real signal data shipped with gridshift (see README.md in this folder for attribution)."""
