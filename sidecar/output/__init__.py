"""⑥ Delivery: stems, their JSON and MIDI tempo maps written atomically in the output folder,
streaming previews, what a stem reply says about its take, and the take history (SQLite).

What goes here: anything that writes what a DAW will read, or records it. May import: takes ④
(the finished takes it describes), musical, files, the OSC vocabulary, post ⑤, engine, errors.
Never jobs ③, the OSC transport, the server or the CLI.
"""
