"""`python -m pipeline` is `intake`."""

from pipeline.cli import cli

cli(prog_name="intake")
