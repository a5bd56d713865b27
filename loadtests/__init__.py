"""Locust load tests shaped by a scenario file, and the ``chirpdesk loadtest`` command.

Only :mod:`chirpdesk.loadtests.locustfile`, :mod:`chirpdesk.loadtests.users` and :mod:`chirpdesk.loadtests.shapes` import
Locust (which monkey-patches the process with gevent); they are loaded by Locust itself, in its
own process. Everything else here (:mod:`chirpdesk.loadtests.plan`, :mod:`chirpdesk.loadtests.payloads`,
:mod:`chirpdesk.loadtests.report`, :mod:`chirpdesk.loadtests.cli`) is plain Python that the rest of chirpdesk may
import. See docs/loadtests.md.
"""
