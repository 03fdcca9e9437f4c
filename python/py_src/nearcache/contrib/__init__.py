"""Integrations of nearcache with other frameworks.

Each module here is sugar over the public :class:`nearcache.Cache` API and
imports its framework only when it is imported itself:
:mod:`nearcache.contrib.django` (a Django cache backend, extra ``django``).
"""
