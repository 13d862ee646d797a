"""Benchmarks of the tracking handler against the seed's, all on the local stand-in (`make bench`)."""
