"""Drive files in the console: the scanned folders as a tree (each folder followed by what it holds, indented),
the links Drive gave, the product an image shows; read-only, and only the staff user's organizations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commerce.models import Product
from connectors.google_drive.models import FOLDER_MIME, DriveFile
from tests.factories import IntegrationFactory, OrganizationFactory

pytestmark = pytest.mark.django_db
SEEN = datetime(2024, 12, 4, 2, tzinfo=UTC)


def _file(integration, file_id, path, *, mime="image/jpeg", product=None):
    return DriveFile.objects.create(
        organization=integration.organization, integration=integration, file_id=file_id, name=path.rsplit("/", 1)[-1],
        path=path, depth=path.count("/"), mime_type=mime, is_folder=mime == FOLDER_MIME, product=product,
        web_content_link=f"https://drive.google.com/uc?id={file_id}&export=download", seen_at=SEEN)


def test_the_folders_show_as_a_tree_with_links_and_products(staff):
    drive = IntegrationFactory(provider="google_drive", type="storage", code="drive")
    product = Product.objects.create(organization=drive.organization, sku="HD-GREY-XL")
    _file(drive, "f2", "Catalog/Shirts/TS-1.jpg")
    _file(drive, "f0", "Catalog", mime=FOLDER_MIME)
    _file(drive, "f1", "Catalog/Shirts", mime=FOLDER_MIME)
    _file(drive, "f3", "Catalog/HD-GREY-XL.jpg", product=product)
    other = IntegrationFactory(organization=OrganizationFactory(), provider="google_drive", code="theirs")
    _file(other, "x1", "Secret/plan.jpg")

    page = staff(drive.organization, "viewer").get("/admin/google_drive/drivefile/")

    assert page.status_code == 200
    html = page.content.decode()
    order = [html.index(name) for name in ("📁 Catalog<", "🖼 HD-GREY-XL.jpg", "📁 Shirts", "🖼 TS-1.jpg")]
    assert order == sorted(order)  # each folder is followed by what it holds
    assert 'padding-left:3.0em' in html  # Catalog/Shirts/TS-1.jpg, two levels down
    assert "https://drive.google.com/uc?id=f3&amp;export=download" in html and "HD-GREY-XL" in html
    assert "plan.jpg" not in html  # another organization's files
    assert "Add drive file" not in html
