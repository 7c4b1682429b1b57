"""Numba kernels. Pure functions: arrays in, a caller-allocated array out.

Callers (the codec wrappers) validate shapes, dtypes and bounds first; the
kernels do no checking of their own.
"""
