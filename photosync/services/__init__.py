"""Services: every write to the system of record goes through a function in this package.

Names are `<entity>_<action>`, arguments keyword-only. Views, actors, the daemon and
commands call these; they never write rows themselves.
"""
