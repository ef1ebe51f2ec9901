"""④ Making a take: one request's takes decoded as a batch (variations × stem parts),
bar-aligned windows past the model's 30 s, and finishing each take (its tempo contract, effects,
key, loop seam).

What goes here: turning a resolved request into finished audio arrays, using the engine and the
post steps. May import: musical, files, the OSC vocabulary (schema, fields), post ⑤, engine,
errors. Never jobs ③, output ⑥, the OSC transport, the server or the CLI.
"""
