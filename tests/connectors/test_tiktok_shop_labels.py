"""TikTok Shop's shipping label of a package, from recorded answers: asked for signed, downloaded unsigned, a PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from connectors import registry
from connectors.errors import ProviderError
from tests.connectors.support import Recorded, sent_query
from tests.connectors.test_tiktok_shop_connector import API, integration  # noqa: F401 (the fixture)

DOCS = f"{API}/fulfillment/202309/packages/1154528977690660010/shipping_documents"
DOC_URL = "https://open-fs-sg.tiktokshop.com/wsos_v2/oec_fulfillment_doc/object/wsos6645b8e5"
PDF = (Path(__file__).resolve().parent.parent / "fixtures" / "fancourier" / "label__awb.pdf").read_bytes()
fixture = Recorded("tiktok_shop")


@responses.activate
def test_the_package_label_is_the_pdf_behind_the_documents_link(integration):  # noqa: F811
    fixture.replay("GET", DOCS, "shipping_documents__label")
    responses.add(responses.GET, DOC_URL, body=PDF, content_type="application/pdf")

    label = registry.connector_for(integration).fetch_label(
        {"tracking_number": "TT7700012345RO", "fulfillment_external_id": "1154528977690660010"})

    assert label == {"content": PDF, "content_type": "application/pdf"}
    asked = sent_query(responses.calls[0])
    assert (asked["document_type"], asked["document_size"]) == ("SHIPPING_LABEL", "A6") and asked["sign"]
    assert "sign" in sent_query(responses.calls[1]) and "x-tts-access-token" not in {
        k.lower() for k in responses.calls[1].request.headers}


def test_a_shipment_never_pushed_has_no_package_and_so_no_label(integration):  # noqa: F811
    with pytest.raises(ProviderError, match="no package id"):
        registry.connector_for(integration).fetch_label({"tracking_number": "X", "fulfillment_external_id": ""})
