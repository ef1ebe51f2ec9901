"""③ Benchmarks: decode speed of the engines."""
