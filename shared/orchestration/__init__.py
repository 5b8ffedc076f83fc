"""Orchestration logic: deterministic generators that the Durable orchestrators in ``functions/`` run.

They only schedule work and combine small results (ids, counts, blob paths); every read and write of
data happens in activities. Replay runs this code many times, so it must not do I/O, read clocks or
random numbers except through the context.
"""
