"""Flotilla's benchmarks: each module measures alternatives side by side in one run."""
