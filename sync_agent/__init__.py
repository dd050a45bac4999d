"""seed-sync: the terminal's MQTT agent.

Modules: ``protocol`` (topics, schemas, signatures; shared with the central), ``outbox`` (the
queue), ``agent`` (the loop that owns the MQTT client), ``roster`` and ``commands`` (what comes
down), ``timekeeper`` (NTP, clock events, re-stamping), ``status`` (the status line the kiosk
reads), ``cli`` (``seed-sync``).
"""
