"""Outgoing webhooks: signing, sending one delivery, the dispatcher, the retry schedule, endpoint services.

    events.publish() ──► WebhookDelivery rows ──► dispatcher (claim, lease) ──► delivery.send (HTTP, no DB)
                                                                         └──► delivery.record (attempt row, schedule)
"""
