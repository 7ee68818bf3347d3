"""A minimal Django project that serves django-helpdesk as FinCare's benchmark peer.

Imported only inside the peer's own virtualenv (see `benchmarks.peers.django_helpdesk`), never by FinCare.
"""
