"""The scenarios shipped with chirpdesk, installed as package data (``chirpdesk.scenarios``).

Each ``*.toml`` file here runs as is. ``chirpdesk scenarios`` lists them and ``chirpdesk init
NAME --from FILE`` copies one into the working directory; :func:`chirpdesk.sim.shipped_scenarios`
finds them from Python.
"""
