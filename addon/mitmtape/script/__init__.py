"""The `-s` script of an installed mitmtape, alone in its folder (see `tape.py`)."""
