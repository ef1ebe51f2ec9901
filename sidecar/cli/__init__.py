"""The commands: `sidecar serve | generate | send | demo | conform | doctor | install-ableton`.

What goes here: argument parsing and the glue that starts a stage for a person at a terminal.
The top of the house: it may import every package; nothing imports it (but `__main__`).
"""
