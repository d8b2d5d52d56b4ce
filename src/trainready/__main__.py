"""``python -m trainready``: the same as the ``trainready`` command."""

from trainready.cli import main

if __name__ == "__main__":
    main()
