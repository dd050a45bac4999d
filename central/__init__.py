"""seed-central: the reference central receiver (MQTT ingest with dedup and acks, roster, commands, PKI).

Modules: ``db`` (SQLite/PostgreSQL), ``ingest`` (validate and store what terminals send),
``service`` (the running receiver), ``roster`` (employee tables and versions), ``pki`` and
``provision`` (site CA, certificates, terminal bundles), ``broker`` (mosquitto configuration),
``queries`` (reports), ``commands`` (signed commands), ``demo_stack`` (everything on one machine),
``cli`` (``seed-central``). The wire contract is ``contract.protocol`` and docs/protocol.md.
"""
