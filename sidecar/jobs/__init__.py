"""③ The job queue and the model worker: jobs and their states, the bounded FIFO, the journal of
running jobs, the models in memory, and the worker thread that runs each job through the stages.

What goes here: anything about *when* and *in what order* requests run (queueing, cancel, the
worker loop, which model serves). May import: takes ④, output ⑥, musical, files, the OSC
vocabulary (schema, fields, addresses), post ⑤, engine, errors. Never the OSC transport, the
server or the CLI.
"""
