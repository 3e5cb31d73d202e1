"""Blaxel resource kinds. Each module describes one kind (CRD names, spec model, payload mapping).

Adding a kind (functions, models, jobs) means one new module exposing a `KIND` like `agent.KIND`.
"""
