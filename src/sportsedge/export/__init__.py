"""Export trained runs to every format in sportsedge.formats (needs the `train` extra)."""
