"""The wire contract shared by terminals and the central server.

Everything both sides must agree on, in one package that imports nothing from
``terminal``, ``sync_agent`` or ``central``: message models and topics
(:mod:`contract.protocol`), the UTC stamp format (:mod:`contract.stamps`), card-number
normalisation (:mod:`contract.cards`), the PIN hash scheme (:mod:`contract.pins`), the
verification modes and roster rules (:mod:`contract.roster_rules`), command-signing keys
(:mod:`contract.signing`).
"""
