"""The Helix prototype: a host and layer-range workers serving a real LLaMA-architecture model.

Layout (docs/design/prototype.md s10): ``model`` (the decoder written with plain torch), ``engines``
(registry of per-worker stage engines), ``sysconfig`` (node table generated from a placement), ``transport``
(pyzmq messages: JSON header + raw tensor bytes), ``worker`` / ``host`` (the two process kinds),
``routing`` (the host-side adapters onto ``helix.scheduling``), ``workload`` (request streams),
``launch`` (local processes or Ray), ``logparse`` (events logs -> metrics via ``helix.metrics``).
"""
