"""sportsedge: train image classifiers, export them for the edge, run and benchmark them.

The base install is the TF-free runtime (``sportsedge.runtime``) and benchmarks; training and
export need the ``train`` extra. Importing this package imports nothing heavy.
"""

__version__ = "0.1.0"
