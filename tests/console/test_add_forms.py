"""Every add form the console offers, submitted empty, answers with the form's errors — never a 500.

A model whose records only arrive from a channel or an analysis (products, purchase needs) offers no add form:
its required fields are not the operator's to fill, so the form could only fail in the database.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _add_urls() -> list[str]:
    urls = []
    for model in admin.site._registry:
        try:
            urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add"))
        except NoReverseMatch:
            continue
    return sorted(urls)


@pytest.mark.parametrize("url", _add_urls())
def test_an_empty_add_form_is_refused_with_errors_not_a_server_error(url, org):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    page = client.get(url)
    if page.status_code == 403:
        return  # no add form offered
    assert page.status_code == 200
    answer = client.post(url, {"_save": "Save"})
    assert answer.status_code in (200, 302, 403), answer.status_code
    if answer.status_code == 302:  # an empty form that is valid made a record: it must be a usable one
        assert "/add/" not in answer["Location"]


@pytest.mark.parametrize("model", ["commerce/product", "analysis/purchaseneed"])
def test_records_that_only_arrive_from_elsewhere_have_no_add_form(model, org):
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get(f"/admin/{model}/add/").status_code == 403
    assert 'class="addlink"' not in client.get(f"/admin/{model}/").content.decode()
