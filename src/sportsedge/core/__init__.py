"""The vocabulary every layer shares: errors, the format table, output kinds, metrics and input
transforms. Imports nothing of sportsedge and nothing heavy (numpy at most)."""
