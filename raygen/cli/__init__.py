"""Command-line helpers beside the main entry point: Hydra sweeps
(:mod:`~raygen.cli.sweep`) and ``python -m raygen.cli.wait_nodes`` (the Slurm script)."""
