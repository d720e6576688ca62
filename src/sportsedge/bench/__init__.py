"""TF-free benchmarks of exported models: latency, size, memory and accuracy (`sportsedge bench`)."""
