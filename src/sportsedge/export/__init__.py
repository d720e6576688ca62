"""Export trained runs to every format in sportsedge.core.formats (needs the `train` extra)."""
