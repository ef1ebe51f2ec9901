"""①/⑥ Files at the edge: reading a prompt clip (range, limits, checks), writing audio atomically,
and which paths a request may read (allowed roots, symlinks resolved first).

What goes here: the file-system rules every stage shares. May import: post ⑤ (sample formats,
prompt ranges), errors. Nothing above it.
"""
