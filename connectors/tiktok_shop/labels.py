"""TikTok Shop's shipping label of a package (the seller prints it when TikTok's logistics ships the parcel).

`GET /fulfillment/202309/packages/{package_id}/shipping_documents?document_type=SHIPPING_LABEL&document_size=A6`
(signed like every Open API call) → `{"code": 0, "data": {"doc_url": "https://…", "tracking_number": "…"}}`;
`doc_url` is a short-lived link to the PDF, downloaded at once, unsigned, through the same HTTP client (call log,
outbound URL check). The package id is the fulfillment's channel id (`push_fulfillment` answers it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.errors import ProviderError

from .client import VERSION

if TYPE_CHECKING:
    from .client import TikTokShopClient

DOCUMENT_SIZES = ("A6", "A5")


def shipping_label(client: TikTokShopClient, package_id: str, *, size: str = "A6") -> dict[str, Any]:
    if not package_id:
        raise ProviderError("TikTok Shop prints labels per package: this shipment has no package id yet "
                            "(its push to TikTok Shop has not succeeded).", status_code=404)
    data = client.call("GET", f"/fulfillment/{VERSION}/packages/{package_id}/shipping_documents",
                       action="get_shipping_documents",
                       params={"document_type": "SHIPPING_LABEL", "document_size": size})
    url = str(data.get("doc_url") or "")
    if not url:
        raise ProviderError(f"TikTok Shop gave no shipping document for package {package_id}.", status_code=404)
    response = client.http.request("GET", url, action="download_shipping_label", authenticate=False)
    if not (response.content or b"").lstrip()[:5] == b"%PDF-":
        raise ProviderError(f"TikTok Shop's shipping document for package {package_id} is not a PDF.",
                            status_code=502)
    return {"content": response.content, "content_type": "application/pdf"}
