"""What a user sees of a run: progress bars and per-iteration summary tables."""
