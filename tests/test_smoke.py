import pytest


@pytest.mark.django_db
def test_health_answers_ok(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_the_site_root_leads_to_the_console_and_a_browser_finds_the_favicon(client):
    assert client.get("/")["Location"] == "/admin/"
    assert client.get("/favicon.ico")["Location"] == "/static/switchyard/favicon.svg"
