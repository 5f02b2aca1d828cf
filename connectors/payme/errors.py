"""Payme's merchant API errors: the JSON-RPC codes Payme understands, each with its message in ru/uz/en.

Payme shows `message` to the payer in their language and reads `data` as the
name of the faulty field. Codes -31050…-31099 are the merchant's own "account"
errors (Payme's docs give the range, not the meanings); ours are listed below.
"""

from __future__ import annotations

from typing import Any

# JSON-RPC and transport
PARSE_ERROR = -32700  # the body is not JSON
INVALID_REQUEST = -32600  # not a JSON-RPC request (no method, params not an object, a param missing)
METHOD_NOT_FOUND = -32601
NOT_POST = -32300  # the request method is not POST
INSUFFICIENT_PRIVILEGE = -32504  # Basic auth missing or wrong
SYSTEM_ERROR = -32400
# Transactions
WRONG_AMOUNT = -31001
TRANSACTION_NOT_FOUND = -31003
CANNOT_CANCEL = -31007  # the order was shipped: the payment can no longer be cancelled
CANNOT_PERFORM = -31008  # not in state 1, timed out, or the order is no longer payable
# Account (order) errors, ours within Payme's -31050…-31099
ORDER_NOT_FOUND = -31050
ORDER_NOT_PAYABLE = -31051  # paid, shipped, cancelled or refunded already, or not in UZS
ORDER_BUSY = -31099  # another transaction of this order is open (state 1)

MESSAGES: dict[int, tuple[str, str, str]] = {  # (ru, uz, en)
    PARSE_ERROR: ("Ошибка разбора JSON", "JSON tahlil xatosi", "Parse error"),
    INVALID_REQUEST: ("Неверный запрос JSON-RPC", "JSON-RPC so'rovi noto'g'ri", "Invalid JSON-RPC request"),
    METHOD_NOT_FOUND: ("Метод не найден", "Usul topilmadi", "Method not found"),
    NOT_POST: ("Метод запроса должен быть POST", "So'rov usuli POST bo'lishi kerak", "The request must be a POST"),
    INSUFFICIENT_PRIVILEGE: ("Недостаточно привилегий", "Huquqlar yetarli emas", "Insufficient privilege"),
    SYSTEM_ERROR: ("Системная ошибка", "Tizim xatosi", "System error"),
    WRONG_AMOUNT: ("Неверная сумма", "Noto'g'ri summa", "Wrong amount"),
    TRANSACTION_NOT_FOUND: ("Транзакция не найдена", "Tranzaksiya topilmadi", "Transaction not found"),
    CANNOT_CANCEL: ("Заказ выполнен, отменить транзакцию невозможно",
                    "Buyurtma bajarilgan, tranzaksiyani bekor qilib bo'lmaydi",
                    "The order was shipped; the transaction cannot be cancelled"),
    CANNOT_PERFORM: ("Невозможно выполнить операцию", "Amalni bajarib bo'lmaydi", "The operation cannot be performed"),
    ORDER_NOT_FOUND: ("Заказ не найден", "Buyurtma topilmadi", "Order not found"),
    ORDER_NOT_PAYABLE: ("Заказ не ожидает оплаты", "Buyurtma to'lovni kutmayapti", "The order is not awaiting payment"),
    ORDER_BUSY: ("Заказ уже оплачивается другой транзакцией", "Buyurtma boshqa tranzaksiya bilan to'lanmoqda",
                 "Another transaction of this order is in progress"),
}


class PaymeError(Exception):
    """An error answer: `code` from above, `data` the faulty field (or None)."""

    def __init__(self, code: int, data: Any = None):
        self.code, self.data = code, data
        super().__init__(f"Payme error {code}: {MESSAGES[code][2]}")

    def body(self) -> dict[str, Any]:
        ru, uz, en = MESSAGES[self.code]
        return {"code": self.code, "message": {"ru": ru, "uz": uz, "en": en}, "data": self.data}
