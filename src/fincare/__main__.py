"""`python -m fincare` is the `fincare` command."""

from fincare.cli import main

main()
