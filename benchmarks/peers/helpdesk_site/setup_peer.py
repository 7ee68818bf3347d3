"""Seeds the peer after `migrate`: a staff superuser with a DRF token and one queue; prints them as JSON.

Run inside the peer's virtualenv with DJANGO_SETTINGS_MODULE=helpdesk_site.settings.
"""

import json
import secrets

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from helpdesk.models import Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

user = get_user_model().objects.create_superuser("bench", "bench@example.com", secrets.token_urlsafe(16))
token = Token.objects.create(user=user)
queue = Queue.objects.create(title="Card services", slug="cards", email_address="cards@example.com",
                             allow_email_submission=False)
print(json.dumps({"token": token.key, "queue": queue.id, "user": user.id}))
