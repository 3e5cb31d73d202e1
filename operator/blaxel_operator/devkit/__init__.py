"""Development kit: the Kubernetes API test bed, tool fetching and the local demo.

Used by the tests, `make demo` and the benchmarks; never by the operator at run time.
"""
