"""Development kit: the Kubernetes API test bed, tool fetching, the local demo and the e2e harness.

Used by the tests, `make demo` and the benchmarks. The test bed's schema modules (`kube_schema`,
`kube_store`, `kube_query`) double as the CRD validator of `blaxel-operator render`, so that the CLI
applies exactly the rules the tests prove against the apiserver's behaviour.
"""
