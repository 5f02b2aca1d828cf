"""The Google Drive connector against recorded answers (tests/fixtures/google_drive/), shaped as Drive v3 and
Google's OAuth token endpoint answer.

The service account's key is made here (an RSA key pair generated per test session), so the JWT assertion the
connector sends can be verified with its public half: the grant is google-auth's signing, sent through the
project's HTTP client. Scans walk folders page by page (`nextPageToken`) and link images to products by SKU;
backups upload CSV files whose bytes are asserted, and retention deletes the oldest runs only.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from responses import matchers

from commerce.models import Order, OrderLine, Product, StockLevel
from connectors import registry
from connectors.google_drive import images
from connectors.google_drive.connector import FILE, READONLY, TOKEN_URL
from connectors.google_drive.models import DriveFile
from connectors.google_drive.scan import drive_scan
from integrations.models import IntegrationLog, IntegrationStatus
from syncjobs.backups import backup_write
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

API = "https://www.googleapis.com/drive/v3"
UPLOAD = "https://www.googleapis.com/upload/drive/v3/files"
ROOT, SUB = "1Xk9CatalogRootFolder00000000000", "1Ym2ShirtsSubFolder0000000000000"
BACKUP = "0BkBackupFolderInSharedDrive0000"
EMAIL = "switchyard-drive@merchant-erp.iam.gserviceaccount.com"

recorded = Recorded("google_drive")


@pytest.fixture(scope="session")
def key_pair():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return pem, public


@pytest.fixture
def integration(db, public_dns, sleeps, settings, key_pair):
    settings.PROVIDER_MAX_RETRIES = 1
    key_file = {"type": "service_account", "project_id": "merchant-erp", "private_key_id": "0123456789abcdef",
                "private_key": key_pair[0], "client_email": EMAIL, "client_id": "109876543210987654321",
                "token_uri": TOKEN_URL}
    return IntegrationFactory(provider="google_drive", type="storage", code="drive-1",
                              credentials={"service_account": json.dumps(key_file)},
                              config={"folders": [ROOT], "backup": {"folder_id": BACKUP, "keep": 2}})


def _grant():
    recorded.replay("POST", TOKEN_URL, "token__granted")


def _children(folder, page, token=""):
    query = {"q": f"'{folder}' in parents and trashed = false", "pageSize": "1000", "orderBy": "folder,name",
             "supportsAllDrives": "true", "includeItemsFromAllDrives": "true",
             "fields": "nextPageToken,incompleteSearch,files(id,name,mimeType,parents,size,modifiedTime,"
                       "thumbnailLink,webContentLink,webViewLink)"}
    if token:
        query["pageToken"] = token
    recorded.replay("GET", f"{API}/files", page, match=[matchers.query_param_matcher(query)])


# ---------------------------------------------------------------------- the grant
@responses.activate
def test_the_jwt_grant_is_signed_by_the_service_account_and_sent_through_our_client(integration, connector,
                                                                                     key_pair):
    _grant()
    recorded.replay("GET", f"{API}/about", "about__user")

    assert connector.client.about()["user"]["emailAddress"] == EMAIL

    token_call, about_call = responses.calls
    form = parse_qs(token_call.request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], certs=key_pair[1], audience=TOKEN_URL)
    assert claims["iss"] == EMAIL and claims["exp"] - claims["iat"] == 3600
    assert claims["scope"] == f"{READONLY} {FILE}"  # drive.file only because a backup folder is set
    assert about_call.request.headers["Authorization"] == "Bearer ya29.c.b0AXv0zTPlaceholderTokenForTests000000000"
    integration.refresh_from_db()
    assert integration.access_token.startswith("ya29.") and integration.expires_at > datetime.now(UTC)
    # The call log has the grant, with the assertion redacted.
    logged = IntegrationLog.objects.get(integration=integration, action="token_grant")
    assert form["assertion"][0] not in json.dumps(logged.request)


@responses.activate
def test_without_a_backup_folder_the_grant_asks_read_only(integration, connector):
    integration.config = {"folders": [ROOT]}
    _grant()
    recorded.replay("GET", f"{API}/about", "about__user")
    connector.client.about()
    assert jwt.decode(parse_qs(responses.calls[0].request.body)["assertion"][0], verify=False)["scope"] == READONLY


@responses.activate
def test_a_refused_key_puts_the_integration_in_pending_auth(integration, connector):
    recorded.replay("POST", TOKEN_URL, "token__invalid_grant")
    result = connector.test_connection()
    assert not result.ok and "Invalid JWT Signature" in result.detail
    integration.refresh_from_db()
    assert integration.status == IntegrationStatus.PENDING_AUTH


# ---------------------------------------------------------------------- listing, tree, images
@responses.activate
def test_a_folder_is_listed_over_three_pages(integration, connector):
    _grant()
    _children(ROOT, "files__page1")
    _children(ROOT, "files__page2", "~!!~AI9FV7Tpage2token")
    _children(ROOT, "files__page3", "~!!~AI9FV7Tpage3token")

    files = connector.folder_files(ROOT)

    assert [f["name"] for f in files] == ["Shirts", "HD-GREY-XL.jpg", "HD-GREY-XL_2.jpg", "JK-WINTER-S front.png",
                                          "price-list-2024.pdf", "UNKNOWN-SKU.jpg", "TS-WHITE-M (1).webp"]
    assert [sent_query(c).get("pageToken") for c in responses.calls[1:]] == [
        None, "~!!~AI9FV7Tpage2token", "~!!~AI9FV7Tpage3token"]


@responses.activate
def test_a_listing_page_that_failed_with_a_server_error_is_asked_again(integration, connector, sleeps):
    _grant()
    recorded.replay("GET", f"{API}/files", "errors__server")
    _children(ROOT, "files__page3")
    assert [f["name"] for f in connector.folder_files(ROOT)] == ["TS-WHITE-M (1).webp"]
    assert len(sleeps) == 1  # one backoff, then the same page again


@pytest.mark.parametrize("name, skus, expected", [
    ("HD-GREY-XL.jpg", {"HD-GREY-XL"}, "HD-GREY-XL"),
    ("HD-GREY-XL_2.jpg", {"HD-GREY-XL"}, "HD-GREY-XL"),
    ("TS-WHITE-M (1).webp", {"TS-WHITE-M"}, "TS-WHITE-M"),
    ("TS-BLACK-L-back.jpg", {"TS", "TS-BLACK", "TS-BLACK-L"}, "TS-BLACK-L"),  # the longest SKU wins
    ("ts-white-m.jpg", {"TS-WHITE-M"}, None),  # SKUs are exact
    ("UNKNOWN-SKU.jpg", {"TS-WHITE-M"}, None),
])
def test_image_names_are_matched_to_skus(name, skus, expected):
    assert images.match_skus([name], skus).get(name) == expected


@responses.activate
def test_a_scan_records_the_tree_and_attaches_images_to_products(integration, connector):
    organization = integration.organization
    for sku in ("HD-GREY-XL", "JK-WINTER-S", "TS-WHITE-M", "TS-BLACK-L", "TS-BLACK"):
        Product.objects.create(organization=organization, sku=sku)
    _grant()
    recorded.replay("GET", f"{API}/files/{ROOT}", "files__root_folder")
    _children(ROOT, "files__page1")
    _children(ROOT, "files__page2", "~!!~AI9FV7Tpage2token")
    _children(ROOT, "files__page3", "~!!~AI9FV7Tpage3token")
    _children(SUB, "files__shirts")
    DriveFile.objects.create(organization=organization, integration=integration, file_id="deleted-since",
                             name="old.jpg", path="Catalog/old.jpg", seen_at=datetime(2024, 1, 1, tzinfo=UTC))

    counts = drive_scan(connector)

    assert counts == {"files": 8, "folders": 2, "images": 7, "matched": 5, "removed": 1}
    tree = list(DriveFile.objects.filter(integration=integration).order_by("path").values_list("path", "depth"))
    assert tree[:3] == [("Catalog", 0), ("Catalog/HD-GREY-XL.jpg", 1), ("Catalog/HD-GREY-XL_2.jpg", 1)]
    assert ("Catalog/Shirts/TS-BLACK-L-back.jpg", 2) in tree
    linked = dict(DriveFile.objects.filter(product__isnull=False).values_list("name", "product__sku"))
    assert linked == {"HD-GREY-XL.jpg": "HD-GREY-XL", "HD-GREY-XL_2.jpg": "HD-GREY-XL",
                      "JK-WINTER-S front.png": "JK-WINTER-S", "TS-WHITE-M (1).webp": "TS-WHITE-M",
                      "TS-BLACK-L-back.jpg": "TS-BLACK-L"}
    image = DriveFile.objects.get(name="HD-GREY-XL.jpg")
    assert image.web_content_link == "https://drive.google.com/uc?id=1Aa1&export=download"
    assert image.thumbnail_link.startswith("https://lh3.googleusercontent.com/")


# ---------------------------------------------------------------------- backups
@pytest.fixture
def records(integration):
    organization = integration.organization
    product = Product.objects.create(organization=organization, sku="TS-WHITE-M", name="Tricou, alb \"M\"",
                                     price=Decimal("59.90"), currency="RON")
    StockLevel.objects.create(organization=organization, product=product, location="main", on_hand=12, reserved=2)
    order = Order.objects.create(organization=organization, external_id="9001", external_number="1001",
                                 currency="RON", total=Decimal("59.90"), subtotal=Decimal("59.90"),
                                 customer_name="Ion Popescu", placed_at=datetime(2024, 12, 3, 18, tzinfo=UTC))
    OrderLine.objects.create(order=order, external_id="l1", sku="TS-WHITE-M", product=product, quantity=1,
                             unit_price=Decimal("59.90"), total=Decimal("59.90"))
    return product, order


def _uploaded(call) -> tuple[dict, bytes]:
    """The metadata and the media of a multipart/related upload body."""
    boundary = call.request.headers["Content-Type"].split("boundary=")[1].encode()
    parts = [p for p in call.request.body.split(b"--" + boundary) if p.strip() not in (b"", b"--")]
    meta_part, media_part = parts
    metadata = json.loads(meta_part.split(b"\r\n\r\n", 1)[1].strip())
    media = media_part.split(b"\r\n\r\n", 1)[1][:-2]  # the part ends with CRLF before the next boundary
    return metadata, media


@responses.activate
def test_a_backup_uploads_the_records_as_csv_and_keeps_the_last_runs(integration, records):
    product, order = records
    _grant()
    for _ in range(4):
        recorded.replay("POST", UPLOAD, "files__created")
    listing = recorded("files__backup_listing")["body"]

    def list_folder(request):  # what Drive lists by then: the older runs and the files just uploaded
        assert parse_qs(request.url.split("?", 1)[1])["q"] == [f"'{BACKUP}' in parents and trashed = false"]
        new = [{"id": f"new-{_uploaded(c)[0]['name']}", "name": _uploaded(c)[0]["name"], "mimeType": "text/csv"}
               for c in responses.calls if c.request.method == "POST" and c.request.url.startswith(UPLOAD)]
        return 200, {}, json.dumps({**listing, "files": listing["files"] + new})

    responses.add_callback("GET", f"{API}/files", callback=list_folder)
    deleted = []

    def delete(request):
        deleted.append(request.url.split("/files/")[1].split("?")[0])
        return 204, {}, b""

    responses.add_callback("DELETE", re.compile(rf"{re.escape(API)}/files/\w+"), callback=delete)

    run = backup_write(integration_id=integration.pk, now=datetime(2024, 12, 4, 2, 0, tzinfo=UTC))

    uploads = [c for c in responses.calls if c.request.method == "POST" and c.request.url.startswith(UPLOAD)]
    assert [sent_query(c)["uploadType"] for c in uploads] == ["multipart"] * 4
    bodies = {}
    for call in uploads:
        metadata, media = _uploaded(call)
        assert metadata["parents"] == [BACKUP] and metadata["mimeType"] == "text/csv"
        bodies[metadata["name"]] = media
    prefix = "switchyard-drive-1-20241204T020000Z-"
    assert sorted(bodies) == [f"{prefix}{n}.csv" for n in ("order_lines", "orders", "products", "stock")]
    assert bodies[f"{prefix}products.csv"] == (
        "id,sku,name,status,price,currency,barcode,updated_at\r\n"
        f'{product.pk},TS-WHITE-M,"Tricou, alb ""M""",active,59.9000,RON,,{product.updated_at.isoformat()}\r\n'
    ).encode()
    assert bodies[f"{prefix}stock.csv"].splitlines()[1].startswith(b"TS-WHITE-M,main,12,2,")
    orders_csv = bodies[f"{prefix}orders.csv"].decode().splitlines()
    assert orders_csv[1].startswith(f"{order.pk},,9001,1001,pending,RON,59.9000,0.0000,0.0000,0.0000,59.9000,"
                                    "Ion Popescu,,2024-12-03T18:00:00+00:00,")
    assert bodies[f"{prefix}order_lines.csv"].decode().splitlines()[1] == f"{order.pk},{order.lines.get().pk}," \
                                                                           "TS-WHITE-M,,1,59.9000,59.9000,0"
    # keep=2: this run and the newest older one stay; the two oldest runs' files go, and nothing else.
    assert sorted(deleted) == sorted(f"old{i}{k}" for i in (0, 1) for k in ("orders", "order_lines", "products",
                                                                            "stock"))
    assert run.deleted[0] == "switchyard-drive-1-20241201T020000Z-order_lines.csv"
    # The records are nobody's business in the call log.
    logged = IntegrationLog.objects.filter(integration=integration, action="upload_file").first()
    assert "Ion Popescu" not in json.dumps(logged.request) and "not logged" in logged.request["data"]
    integration.refresh_from_db()
    assert integration.metadata["backup"]["stamp"] == "20241204T020000Z"


@responses.activate
def test_a_failed_upload_removes_its_half_run_and_deletes_no_older_backup(integration, records):
    _grant()
    recorded.replay("POST", UPLOAD, "files__created")
    recorded.replay("POST", UPLOAD, "errors__storage_quota")
    responses.add("DELETE", f"{API}/files/1NewCsvFile000000000000000000000", status=204)

    with pytest.raises(Exception, match="storage quota"):
        backup_write(integration_id=integration.pk, now=datetime(2024, 12, 4, 2, 0, tzinfo=UTC))

    deletes = [c.request.url for c in responses.calls if c.request.method == "DELETE"]
    assert len(deletes) == 1 and "1NewCsvFile" in deletes[0]  # only the half run's own file
    assert not any(c.request.url.startswith(f"{API}/files?") for c in responses.calls)  # no retention listing
    integration.refresh_from_db()
    assert "storage quota" in integration.metadata["backup"]["last_error"]


@responses.activate
def test_a_large_file_goes_by_resumable_upload(integration, connector, monkeypatch):
    monkeypatch.setattr("connectors.google_drive.client.MULTIPART_LIMIT", 10)
    _grant()
    recorded.replay("POST", UPLOAD, "upload__session")
    session = "https://www.googleapis.com/upload/drive/v3/files?uploadType=resumable&upload_id=ADPycdu-session-0001"
    recorded.replay("PUT", session, "files__created")

    answer = connector.upload_file(folder_id=BACKUP, name="big.csv", content=b"a,b\r\n" * 10, mime_type="text/csv")

    start, put = responses.calls[1], responses.calls[2]
    assert json.loads(start.request.body) == {"name": "big.csv", "parents": [BACKUP], "mimeType": "text/csv"}
    assert start.request.headers["X-Upload-Content-Length"] == "50"
    assert put.request.body == b"a,b\r\n" * 10 and answer["id"] == "1NewCsvFile000000000000000000000"


@responses.activate
def test_deleting_a_file_already_gone_is_fine(integration, connector):
    _grant()
    recorded.replay("DELETE", f"{API}/files/gone", "errors__not_found")
    connector.delete_file("gone")


@responses.activate
def test_connection_checks_the_folders_and_that_the_backup_folder_is_writable(integration, connector):
    _grant()
    recorded.replay("GET", f"{API}/about", "about__user")
    recorded.replay("GET", f"{API}/files/{ROOT}", "files__root_folder")
    recorded.replay("GET", f"{API}/files/{BACKUP}", "files__backup_folder")
    result = connector.test_connection()
    assert result.ok and EMAIL in result.detail


def test_the_backup_is_a_periodic_job_beat_and_cron_both_run():
    from syncjobs.cron import CRON_JOBS

    assert CRON_JOBS["backup"] == [("syncjobs.tasks.backup_records", {})]
    assert registry.supports("google_drive", "files")
