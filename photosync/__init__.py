"""PhotoSync: the Django project and its one app."""
