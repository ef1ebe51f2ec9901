"""④ The GPU pool (`sidecar pool serve`), on Ray Serve: warm MusicGen replicas (one per GPU,
autoscaled), one deployment per model, concurrent requests of one bucket decoded as one batch,
behind a token-checked HTTP ingress that producers' sidecars reach with `--engine URL`.

What goes here: the server side of the remote engine. May import: engine (its decode loop,
batching and wire format) and errors. Nothing imports it but the CLI.
"""
