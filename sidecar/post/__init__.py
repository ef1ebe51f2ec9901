"""⑤ Post-processing: pure array-in, array-out steps between the model and delivery: the tempo
contract (tempo and bar lines, stretch, grid cut, loop seams), loudness, key, channels, resampling,
sample formats.

What goes here: a new post step, as a function of arrays and numbers. May import: errors only.
No file, socket, database or OSC I/O (a contract in pyproject.toml checks it).
"""
