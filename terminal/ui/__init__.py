"""The kiosk: the Kivy touchscreen app employees and admins use at the door.

``terminal.ui.app.run_kiosk(terminal)`` runs it on top of a started
:class:`terminal.runtime.Terminal`; nothing here writes punches itself.
"""
