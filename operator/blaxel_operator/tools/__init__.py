"""The GitOps tools of the `blaxel-operator` CLI: render, diff, import and convert (no cluster needed).

`cli.py` only parses arguments; each command's logic lives in its own module here, `common` holds what
they share (reading manifests, writing output atomically, credentials, progress) and `mapping` turns a
Blaxel Agent (from the API or from a `bl apply` manifest) into a BlaxelAgent manifest.
"""
