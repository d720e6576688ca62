"""The end-to-end pipeline and its report (needs the `train` extra)."""
