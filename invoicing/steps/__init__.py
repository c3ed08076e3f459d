"""The pipeline's steps, one module each, in the order they run (jobs.pipeline holds the table).

claim -> recalculate -> capture -> issue -> render -> email -> write_back

Each step takes the order in the pipeline (base.PipelineOrder), reads the persisted state first
and skips work already done, so a redelivered task (worker killed, broker redelivery,
reconciler) is harmless. Network I/O never happens while a row lock is held, except where a
comment says why it is safe. Steps raise core.errors.PermanentError (the order fails with its
message) or TransientError (the task retries with backoff); what they return is the step's note.
"""
