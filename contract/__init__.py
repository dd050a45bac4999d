"""The wire contract shared by terminals and the central server.

Everything both sides must agree on, in one package that imports nothing from
``terminal``, ``sync_agent`` or ``central``: message models and topics
(:mod:`contract.protocol`), card-number normalisation (:mod:`contract.cards`), the PIN
hash scheme (:mod:`contract.pins`), command-signing keys (:mod:`contract.signing`).
"""
