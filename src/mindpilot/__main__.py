"""`python -m mindpilot` is the `mindpilot` command."""

from mindpilot.cli import main

main()
