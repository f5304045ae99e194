"""Local mode: the whole product as local processes (``cephalon demo``, ``cephalon dev up``).

This is the only place outside the access layer that handles real credentials: it
reads them from the environment (``providers.yml`` names them as ``${ENV}``) and puts
them into the emulated cluster's Secrets, exactly where a platform team would.
"""
