"""The campaign and product lists start analyses: an action for the selected rows (scoped to them, one run per
organization) and an "Analyse all" button, through analysis_start as the API; the message links the run."""

from __future__ import annotations

import re

import pytest

from analysis import services
from analysis.models import AnalysisRun
from commerce.models import Product
from console.admin import analysis as analysis_admin
from tests.analysis.support import AS_OF
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    monkeypatch.setattr(services, "nudge_on_commit", lambda task, args: None)


@pytest.fixture
def operator(client, org):
    client.force_login(MembershipFactory(organization=org, role="operator").user)
    return client


def _links(response) -> list[str]:
    """The runs the page's messages say were queued."""
    return re.findall(r'<a href="(/admin/analysis/analysisrun/\d+/change/)">[^<]+</a> queued',
                      response.content.decode())


def test_analysing_selected_campaigns_looks_at_those_only(operator, org, dataset):
    boots, gloves = dataset["campaigns"]["boots"], dataset["campaigns"]["gloves"]
    page = operator.post("/admin/ads/campaign/", {"action": "analyse", "_selected_action": [gloves.pk, boots.pk]},
                         follow=True)
    run = AnalysisRun.objects.get()
    assert (run.kind, run.scope, run.trigger, run.status) == (
        "campaigns", {"campaigns": sorted([boots.pk, gloves.pk])}, "console", "queued")
    assert _links(page) == [f"/admin/analysis/analysisrun/{run.pk}/change/"]
    assert "campaigns of 2 selected campaign(s)" in page.content.decode()
    services.analysis_run(run.pk, as_of=AS_OF)
    assert sorted(run.suggestions.values_list("campaign__name", flat=True)) == ["Gloves", "Winter boots"]
    assert operator.get(_links(page)[0]).status_code == 200  # the link opens the run


def test_analysing_selected_products_pricing_or_stock_is_scoped_to_their_skus(operator, org, dataset):
    products = dataset["products"]
    operator.post("/admin/commerce/product/", {"action": "analyse_stock",
                                               "_selected_action": [products["c"].pk, products["b"].pk]})
    operator.post("/admin/commerce/product/", {"action": "analyse_pricing", "_selected_action": [products["a"].pk]})
    stock, pricing = AnalysisRun.objects.order_by("id")
    assert (stock.kind, stock.scope) == ("stock", {"skus": ["SKU-B", "SKU-C"]})
    assert (pricing.kind, pricing.scope) == ("pricing", {"skus": ["SKU-A"]})
    services.analysis_run(stock.pk, as_of=AS_OF)
    assert sorted(stock.suggestions.values_list("product__sku", flat=True)) == ["SKU-B", "SKU-C"]  # not SKU-A


def test_the_analyse_all_buttons_start_an_unscoped_run(operator, org, dataset):
    campaigns = operator.get("/admin/ads/campaign/").content.decode()
    products = operator.get("/admin/commerce/product/").content.decode()
    assert 'id="analyse-all-campaigns"' in campaigns and 'id="analyse-all-stock"' not in campaigns
    assert 'id="analyse-all-pricing"' in products and 'id="analyse-all-stock"' in products
    page = operator.post("/admin/analysis/analysisrun/start/", {"kind": "stock"}, follow=True)
    run = AnalysisRun.objects.get()
    assert (run.kind, run.scope) == ("stock", {})
    assert _links(page) == [f"/admin/analysis/analysisrun/{run.pk}/change/"]


def test_a_viewer_has_neither_the_actions_nor_the_buttons(client, org, dataset):
    client.force_login(MembershipFactory(organization=org, role="viewer").user)
    dashboard = client.get("/admin/").content.decode()
    assert "Run analysis" not in dashboard and "Suggestions to review" in dashboard  # it would answer 403
    page = client.get("/admin/commerce/product/").content.decode()
    assert "analyse_stock" not in page and "analyse-all" not in page
    assert "analyse" not in client.get("/admin/ads/campaign/").content.decode().replace("analysis", "")
    client.post("/admin/ads/campaign/", {"action": "analyse",
                                         "_selected_action": [dataset["campaigns"]["boots"].pk]})
    assert not AnalysisRun.objects.exists()


def test_a_selection_over_the_scope_limit_is_refused_naming_analyse_all(operator, org, dataset, monkeypatch):
    monkeypatch.setattr(analysis_admin, "SCOPE_LIMIT", 1)
    page = operator.post("/admin/commerce/product/", {"action": "analyse_pricing", "_selected_action": [
        dataset["products"]["a"].pk, dataset["products"]["b"].pk]}, follow=True)
    assert "more than 1 product(s) selected" in page.content.decode()
    assert not AnalysisRun.objects.exists()


def test_a_superuser_s_selection_across_organizations_makes_one_run_each(client, org, dataset):
    other = OrganizationFactory()
    theirs = Product.objects.create(organization=other, sku="SKU-Z", price="10.00", currency="RON")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.post("/admin/commerce/product/", {"action": "analyse_pricing", "_selected_action": [
        theirs.pk, dataset["products"]["a"].pk]})
    assert sorted(AnalysisRun.objects.values_list("organization_id", "scope")) == sorted([
        (org.pk, {"skus": ["SKU-A"]}), (other.pk, {"skus": ["SKU-Z"]})])


def test_the_api_takes_the_same_campaign_scope(operator_api, org, dataset):
    scarves = dataset["campaigns"]["scarves"]
    answer = operator_api.post("/api/analyses/", {"kind": "campaigns", "scope": {"campaigns": [scarves.pk]}},
                               format="json")
    assert answer.status_code == 202 and answer.json()["scope"] == {"campaigns": [scarves.pk]}
    services.analysis_run(answer.json()["id"], as_of=AS_OF)
    assert list(AnalysisRun.objects.get().suggestions.values_list("campaign__name", flat=True)) == ["Scarves"]
    bad = operator_api.post("/api/analyses/", {"kind": "campaigns", "scope": {"campaigns": [2**63]}}, format="json")
    assert bad.status_code == 400 and "campaigns" in bad.json()["error"]["details"]["scope"]
