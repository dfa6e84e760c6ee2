"""`python -m sim` runs the `pathways` command."""

from .cli import main

main()
