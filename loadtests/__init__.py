"""Locust load tests shaped by a scenario file, and the ``chirpdesk loadtest`` command.

Only :mod:`loadtests.locustfile`, :mod:`loadtests.users` and :mod:`loadtests.shapes` import
Locust (which monkey-patches the process with gevent); they are loaded by Locust itself, in its
own process. Everything else here (:mod:`loadtests.plan`, :mod:`loadtests.payloads`,
:mod:`loadtests.report`, :mod:`loadtests.cli`) is plain Python that the rest of chirpdesk may
import. See docs/loadtests.md.
"""
