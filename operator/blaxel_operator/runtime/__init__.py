"""The generic runtime: one reconcile driver and its small edges (inputs, external client, status
writer, events, metrics), a work queue that schedules reconciles, and list sweeps that observe settled
objects a page at a time. Nothing here knows a kind's vocabulary: it asks the kind."""
