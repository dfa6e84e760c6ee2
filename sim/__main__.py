"""`python -m sim` runs the `pathways` command."""

from sim.interfaces.cli import main

main()
