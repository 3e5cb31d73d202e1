"""Development kit, not shipped: the Kubernetes API test bed, tool fetching, the local demo and the e2e harness.

Used by the tests, `make demo` and the benchmarks. It lives beside the product (`operator/`, the same source
root) but outside its wheel. It may import the product (the test bed validates custom resources with the
product's structural-schema validator, `blaxel_operator.crdschema`); the product never imports it.
"""
