from __future__ import annotations

from django.urls import path

from calls.intake import views

app_name = "minivoice"

urlpatterns = [
    path("answer/", views.AnswerView.as_view(), name="answer"),
    path("webhooks/", views.WebhookView.as_view(), name="webhooks"),
]
