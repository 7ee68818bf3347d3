"""django-helpdesk mounted at /helpdesk/; its REST API is then /helpdesk/api/tickets/."""

from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls"))]
