"""The embedded broker never shows a worker a message before it is whole (kombu issue #1551)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from kombu import Connection

from config import broker_filesystem


@pytest.fixture
def folder(tmp_path):
    for sub in ("queue", "processed", "control"):
        (tmp_path / sub).mkdir()
    return tmp_path


def connect(folder) -> Connection:
    return Connection("filesystem://", transport="config.broker_filesystem:Transport", transport_options={
        "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
        "store_processed": False, "polling_interval": 0,
    })


def test_a_message_is_written_under_a_hidden_name_and_renamed_into_the_queue(folder, monkeypatch):
    seen_while_writing = []
    real = broker_filesystem.str_to_bytes

    def writing(text):
        seen_while_writing.extend(os.listdir(folder / "queue"))
        return real(text)

    monkeypatch.setattr(broker_filesystem, "str_to_bytes", writing)
    with connect(folder) as connection:
        queue = connection.SimpleQueue("jobs")
        queue.put({"n": 1})
        assert len(seen_while_writing) == 1 and seen_while_writing[0].startswith(".partial-")
        assert [name.endswith(".jobs.msg") and not name.startswith(".") for name in os.listdir(folder / "queue")] == [
            True]
        message = queue.get(timeout=30)  # there already: a bound for a lost message, not a wait
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()


def test_a_consumer_polling_during_a_burst_of_publishes_gets_every_message_whole(folder):
    count = 400
    received: list[int] = []
    errors: list[BaseException] = []

    def consume():
        try:
            with connect(folder) as connection:
                queue = connection.SimpleQueue("burst")
                while len(received) < count:
                    message = queue.get(timeout=10)
                    received.append(message.payload["n"])
                    message.ack()
                queue.close()
        except BaseException as exc:  # the test reports it
            errors.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    with connect(folder) as connection:
        queue = connection.SimpleQueue("burst")
        for n in range(count):
            queue.put({"n": n})
        queue.close()
    consumer.join(120)  # a bound for a stuck consumer, never waited by a working one
    assert not errors, errors
    assert sorted(received) == list(range(count))


def test_a_publisher_reading_the_exchange_table_while_queues_are_declared_never_reads_it_half_written(folder):
    """A worker declaring its queues while a web process publishes: every table read is whole and keeps every
    binding. kombu's own transport (transport="filesystem" here) truncates the table before locking it: run
    against it, this test lost bindings or read an empty table every time we tried it."""
    transport = "config.broker_filesystem:Transport"
    names = [f"q{n}" for n in range(300)]
    errors: list[BaseException] = []
    done = threading.Event()

    def declare():
        try:
            with Connection("filesystem://", transport=transport, transport_options={
                    "data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
                    "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
                    "store_processed": False}) as connection:
                channel = connection.default_channel
                channel.exchange_declare("shared", "direct")
                for name in names:
                    channel.queue_declare(name)
                    channel.queue_bind(name, exchange="shared", routing_key=name)
        except BaseException as exc:  # the test reports it
            errors.append(exc)
        finally:
            done.set()

    def read():
        with connect(folder) as connection:
            channel = connection.default_channel
            while not done.is_set():
                try:
                    channel.get_table("shared")
                except BaseException as exc:  # the test reports it
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=declare), threading.Thread(target=read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with connect(folder) as connection:
        table = connection.default_channel.get_table("shared")
    assert errors == [] and {binding.queue for binding in table} == set(names)


def test_a_second_connection_publishing_while_the_first_is_still_binding_loses_nothing(folder, monkeypatch):
    """kombu shares one broker state per process; a binding recorded there before it reached the table file let
    a publisher on another connection skip the bind and route its message nowhere (seen as a lost burst)."""
    first_binding = threading.Event()
    release = threading.Event()
    real = broker_filesystem.Channel._queue_bind

    def slow_for_the_first(self, *args):
        if threading.current_thread().name == "first":
            first_binding.set()
            release.wait(10)
        return real(self, *args)

    monkeypatch.setattr(broker_filesystem.Channel, "_queue_bind", slow_for_the_first)
    queue_name = f"race-{uuid.uuid4().hex}"  # kombu's broker state outlives a test: a fresh name each run

    def declare():
        with connect(folder) as connection:
            connection.SimpleQueue(queue_name).close()

    first = threading.Thread(target=declare, name="first")
    first.start()
    assert first_binding.wait(10)
    try:
        with connect(folder) as connection:
            queue = connection.SimpleQueue(queue_name)
            queue.put({"n": 1})
            message = queue.get(timeout=30)  # a bound for a lost message, not a wait
            assert message.payload == {"n": 1}
            message.ack()
            queue.close()
    finally:
        release.set()
        first.join(10)
