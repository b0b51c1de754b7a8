"""Efficiency and accuracy benchmarks whose results the README quotes.

Not built yet: the supernet issue (3) adds the first one.
"""
