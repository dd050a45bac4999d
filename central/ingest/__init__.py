"""The MQTT receiver: validate, store punches idempotently in bulk, ack after commit, status, events, commands."""
