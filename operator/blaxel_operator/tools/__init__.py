"""The GitOps tools of the `blaxel-operator` CLI: render, diff, import and convert (no cluster needed).

`cli.py` only parses arguments; each command's logic lives in its own module here, `common` holds what
they share (reading manifests, writing output atomically, credentials, progress), `bl_manifests` reads
`bl apply` manifests the way Blaxel's `bl` CLI reads them, and `mapping` turns a Blaxel object (from the
API or from a `bl apply` manifest) into our resource manifest, one `KindMapping` per Blaxel kind.
"""
