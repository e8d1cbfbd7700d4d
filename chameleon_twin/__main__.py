"""`python -m chameleon_twin serve|env`: the same as the `chameleon-twin` script."""

from chameleon_twin.cli import main

if __name__ == "__main__":
    main()
