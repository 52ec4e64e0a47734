"""Benchmarks: scripts that print medians and ratios against a baseline measured in the same run."""
