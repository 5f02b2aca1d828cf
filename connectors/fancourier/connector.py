"""FAN Courier connector: AWBs from orders (Capability.SHIPMENTS), tracking, address checks.

Credentials: `api_key` = the FAN Courier username, `api_secret` = its password
(or `credentials` {"username", "password"}); `config["client_id"]` = the
company's client id (not a secret; every call names it). Other config, all
optional: `service` ("Standard"), `payment` ("expeditor": the sender pays
transport), `parcels` (1), `weight_kg` (1), `dimensions` ({length, height, width}
in cm), `declare_value` (true: the order's total is the declared value),
`content` (default "Order <number>"), `options` (FAN Courier option letters),
`sender` (a FAN Courier sender object; without it FAN Courier uses the
account's pickup address).

Cash on delivery: an order that is not paid yet (status pending) is shipped with
COD = its total; a paid one without. `shipment["cod"]` wins when given.

What the auto-fulfil engine gets back from `create_shipment`: `tracking_number`
(the AWB), `carrier` ("FAN Courier"), `carrier_code` (the service). The AWB is
also recorded as a Shipment row, which the beat task `track_open_awbs` follows
until FAN Courier says delivered or returned.

A 401 after a fresh login (the account lost API access) puts an active
integration in `error` with a readable `last_error`, as Trendyol's and
WooCommerce's refused credentials do.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import Any

from config.beat import PeriodicJob
from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector
from connectors.capabilities import LabelSource, ShipmentCreator
from connectors.errors import AuthExpired, ProviderError
from connectors.http import elapsed_ms
from connectors.payments import order_book

from . import localities, mapping
from .client import API_ROOT, FanCourierClient

CARRIER = "FAN Courier"
DEFAULT_SERVICE = "Standard"


class FanCourierConnector(ShipmentCreator, LabelSource, Connector):
    key = "fancourier"
    display_name = "FAN Courier"
    integration_type = "shipping"
    auth_kind = AuthKind.BASIC
    base_url = API_ROOT
    docs_url = "https://www.fancourier.ro/"
    tasks_module = "connectors.fancourier.tasks"  # the beat task following open AWBs
    periodic_jobs = (PeriodicJob("sync-awb", "connectors.fancourier.tasks.track_open_awbs", 1800),)
    # The shipment statuses of the event-code table (mapping.EVENT_STATUSES) → the order's status.
    order_statuses = mapping.ORDER_STATUSES

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    @property
    def client(self) -> FanCourierClient:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        username = str(credentials.get("username") or self.integration.api_key or "")
        password = str(credentials.get("password") or self.integration.api_secret or "")
        client_id = str(self.config.get("client_id") or "").strip()
        missing = {name: ["required"] for name, value in (("api_key (username)", username),
                                                           ("api_secret (password)", password),
                                                           ("config.client_id", client_id)) if not value}
        if missing:
            raise ValidationError("A FAN Courier integration needs its username (api_key), password (api_secret) "
                                  "and client id (config.client_id).", details=missing)
        if not client_id.isdigit():
            raise ValidationError("config.client_id must be FAN Courier's numeric client id.",
                                  details={"config.client_id": ["not a number"]})
        return FanCourierClient(self.http, username=username, password=password, client_id=client_id)

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        if action == "list_counties":
            return None  # the connection test's call: the test reports it in its result
        return f"{error.message} Save the right ones to resume shipments."

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        """A login (or the cached token) and the county list: credentials, client id and reachability."""
        started = time.monotonic()
        try:
            counties = self.client.counties()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"Could not use FAN Courier: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to FAN Courier as client {self.config.get('client_id')} "
                                       f"({len(counties)} counties served).")

    def fetch_label(self, label: dict[str, Any]) -> dict[str, Any]:
        """The AWB's label as a PDF (`config["label_format"]`: A4, A5 or A6, default A6 for label printers)."""
        page_format = str(self.config.get("label_format") or "A6").upper()
        if page_format not in ("A4", "A5", "A6"):
            raise ValidationError("config.label_format must be A4, A5 or A6.",
                                  details={"config.label_format": [page_format]})
        content = self.client.label([str(label["tracking_number"])], page_format=page_format)
        return {"content": content, "content_type": "application/pdf"}

    def track(self, awb_numbers: list[str]) -> list[dict[str, Any]]:
        """FAN Courier's tracking records of these AWBs (`{awbNumber, events:[{id, name, location, date}], …}`)."""
        return self.client.track(awb_numbers)

    def validate_address(self, address: dict[str, Any]) -> dict[str, str]:
        """The recipient address FAN Courier takes, or ValidationError naming the first bad field (no AWB call).

        Fields are checked in this order, each without a call: country RO, name, phone, street, county. Then the
        locality against FAN Courier's list for the county (one call per county per day).
        """
        address = address if isinstance(address, dict) else {}
        country = str(address.get("country_code") or "").upper()
        if country != "RO":
            raise ValidationError(
                f"FAN Courier's internal AWBs ship within Romania; the address's country is {country or 'empty'}.",
                details={"shipping_address.country_code": ["must be RO"]}, code="ADDRESS_INVALID")
        for field, label in (("name", "the recipient's name"), ("phone", "a phone number"),
                             ("address1", "a street")):
            if not str(address.get(field) or "").strip():
                raise ValidationError(f"The shipping address has no {label}; no AWB was created.",
                                      details={f"shipping_address.{field}": ["required"]}, code="ADDRESS_INVALID")
        county = localities.county_for(address)
        locality = localities.check_locality(county, str(address.get("city") or ""), self.client.localities)
        street, number = mapping.split_street(str(address["address1"]))
        return {"county": county, "locality": locality, "street": street, "streetNo": number,
                "zipCode": str(address.get("zip") or ""), "building": str(address.get("address2") or ""),
                "entrance": "", "floor": "", "apartment": ""}

    # ------------------------------------------------------------------ writes
    def create_shipment(self, shipment: dict[str, Any]) -> dict[str, Any]:
        """Book one AWB for an order (see the module docstring); the address is checked first, without an AWB call."""
        order = shipment.get("order") or {}
        address = shipment.get("address") or {}
        recipient_address = self.validate_address(address)
        total = _decimal(order.get("total"), "order.total")
        cod = _decimal(shipment["cod"], "cod") if shipment.get("cod") is not None else self._cod(order, total)
        declared = total if self.config.get("declare_value", True) else Decimal("0")
        service = str(shipment.get("carrier_code") or self.config.get("service") or DEFAULT_SERVICE)
        parcels = int(self.config.get("parcels") or 1)
        info: dict[str, Any] = {
            "service": service,
            "packages": {"parcel": parcels, "envelope": 0},
            "weight": float(self.config.get("weight_kg") or 1),
            "payment": str(self.config.get("payment") or "expeditor"),
            "cod": mapping.money(cod),
            "currency": str(order.get("currency") or "RON"),
            "declaredValue": mapping.money(declared),
            "observation": str(self.config.get("observation") or ""),
            "content": str(self.config.get("content") or f"Order {order.get('external_number') or order.get('id')}"),
            "options": list(self.config.get("options") or []),
        }
        if isinstance(self.config.get("dimensions"), dict):
            info["dimensions"] = {k: self.config["dimensions"].get(k) for k in ("length", "height", "width")}
        recipient = {"name": str(address.get("company") or address.get("name")),
                     "contactPerson": str(address.get("name") or ""), "phone": str(address.get("phone")),
                     "email": str(shipment.get("email") or ""), "address": recipient_address}
        client = self.client
        body = mapping.awb_request(client_id=int(client.client_id), recipient=recipient, info=info,
                                   sender=self.config.get("sender") or None)
        answer = client.create_awb(body)
        try:
            result = mapping.awb_result(answer)
        except mapping.MappingError as exc:
            raise ProviderError(f"FAN Courier's AWB answer could not be read: {exc}.") from None
        if result.get("errors") or not result.get("awbNumber"):
            raise ProviderError(f"FAN Courier refused the AWB: {_errors_text(result.get('errors'))}",
                                provider_message=_errors_text(result.get("errors")), status_code=422,
                                details={"errors": result.get("errors")})
        awb = str(result["awbNumber"])
        self._record(order, awb, service=service, cod=cod, declared=declared, tariff=result.get("tariff"))
        return {"tracking_number": awb, "carrier": CARRIER, "carrier_code": service, "external_id": awb,
                "tariff": result.get("tariff"), "routing_code": result.get("routingCode") or ""}

    def _cod(self, order: dict[str, Any], total: Decimal) -> Decimal:
        facts = order_book().order_get(organization_id=self.integration.organization_id, order_id=order.get("id"))
        return total if facts is not None and facts.standing == "pending" else Decimal("0")

    def _record(self, order: dict[str, Any], awb: str, *, service: str, cod: Decimal, declared: Decimal,
                tariff: Any) -> None:
        from .models import Shipment

        facts = order_book().order_get(organization_id=self.integration.organization_id, order_id=order.get("id"))
        order_id = facts.id if facts is not None else None
        try:
            tariff_value = Decimal(str(tariff)) if tariff is not None else None
        except InvalidOperation:
            tariff_value = None
        Shipment.objects.update_or_create(
            integration=self.integration, awb_number=awb,
            defaults={"organization_id": self.integration.organization_id, "order_id": order_id, "service": service,
                      "cod_amount": cod, "declared_value": declared, "tariff": tariff_value},
        )


def _decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        raise ValidationError(f"{field} is not an amount.", details={field: ["not a decimal"]}) from None


def _errors_text(errors: Any) -> str:
    if isinstance(errors, dict):
        return "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())
    if isinstance(errors, list):
        return "; ".join(map(str, errors))
    return str(errors or "no AWB number in the answer")
