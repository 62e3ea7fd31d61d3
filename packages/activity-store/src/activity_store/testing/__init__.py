"""Test support for activity_store and for third-party backends (extra ``[testing]``).

* :class:`BackendConformance` - the backend conformance suite to subclass.
* :mod:`activity_store.testing.examples` - ActivityStreams example objects.
* :mod:`activity_store.testing.strategies` - Hypothesis strategies for objects and queries.
"""

from activity_store.testing.conformance import (
    BackendConformance,
    BackendMaker,
    NoCache,
    page_through,
)

__all__ = ["BackendConformance", "BackendMaker", "NoCache", "page_through"]
