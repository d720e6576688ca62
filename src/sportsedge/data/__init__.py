"""Datasets as users hand them over: checking and downloading the Kaggle layout, the demo's
synthetic scenes and video clips made from stills. Sits above ``runtime`` (it reads images with
the runtime's decoder) and below ``train``."""
