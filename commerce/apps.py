from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "commerce"

    def ready(self) -> None:
        # Payment and shipping connectors sit below commerce and act on its orders through the order book they
        # declare (connectors/payments.py); this app implements it.
        # File stores match product images by SKU through the catalogue port (connectors/catalogue.py).
        from connectors.catalogue import catalogue_install
        from connectors.payments import order_book_install

        from .services.catalogue import CommerceCatalogue
        from .services.order_book import CommerceOrderBook

        order_book_install(CommerceOrderBook())
        catalogue_install(CommerceCatalogue())
