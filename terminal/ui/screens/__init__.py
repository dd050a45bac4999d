"""The kiosk's screens: employee screens (idle, result, refusal, PIN pad, second factor) and admin screens."""
