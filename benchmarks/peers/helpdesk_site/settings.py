"""Settings for the django-helpdesk peer: configured as one would run it in production, so the comparison is fair.

DEBUG off, PostgreSQL with persistent connections (FinCare keeps a pool), DRF token auth for the REST API
(Basic auth would run Django's PBKDF2 on every request and measure the hasher, not the ticket path), mail
rendered but not sent (FinCare sends nothing during ticket creation either). Teams mode is off because it
needs pinax-teams, which is an optional extra of django-helpdesk 2.6.1 and not part of the ticket path.
The database and secret come from the environment set by `benchmarks.peers.django_helpdesk`.
"""

import os

SECRET_KEY = os.environ["HELPDESK_BENCH_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SITE_ID = 1
ROOT_URLCONF = "helpdesk_site.urls"
WSGI_APPLICATION = "helpdesk_site.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"
MEDIA_ROOT = os.environ.get("HELPDESK_BENCH_MEDIA_ROOT", "/tmp/helpdesk-bench-media")  # noqa: S108
LOGIN_URL = "/helpdesk/login/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]

DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": os.environ["HELPDESK_BENCH_DB"],
    "USER": os.environ.get("HELPDESK_BENCH_DB_USER", "postgres"),
    "PASSWORD": os.environ.get("HELPDESK_BENCH_DB_PASSWORD", ""),
    "HOST": os.environ.get("HELPDESK_BENCH_DB_HOST", "127.0.0.1"),
    "PORT": os.environ.get("HELPDESK_BENCH_DB_PORT", "5432"),
    "CONN_MAX_AGE": None,
    "CONN_HEALTH_CHECKS": False,
}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
}

EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.com"

HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True  # the default in 2.6.1, stated so a future default cannot silently drop the endpoint

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
