"""Allow ``python -m specc``."""

from specc.cli import run

if __name__ == "__main__":
    run()
