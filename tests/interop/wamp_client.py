"""Interop check for wstest's wampserver with the Python `autobahn` library (asyncio).

Usage: python wamp_client.py ws://127.0.0.1:PORT json|msgpack

Two sessions, A and B, in realm1: B subscribes and A publishes (acknowledged); B registers
procedures and A calls them, including one that raises and one that does not exist. Prints
"INTEROP OK <serializer>" and exits 0 when every step gave the expected answer.
"""

import asyncio
import sys
from urllib.parse import urlparse

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.serializer import JsonSerializer, MsgPackSerializer
from autobahn.wamp.types import ComponentConfig, PublishOptions

TIMEOUT = 10


async def open_session(url, serializer):
    loop = asyncio.get_running_loop()
    joined = loop.create_future()

    class Session(ApplicationSession):
        async def onJoin(self, details):
            joined.set_result(self)

    factory = WampWebSocketClientFactory(
        lambda: Session(ComponentConfig(realm="realm1")), url=url, serializers=[serializer]
    )
    u = urlparse(url)
    await loop.create_connection(factory, u.hostname, u.port)
    return await asyncio.wait_for(joined, TIMEOUT)


async def main(url, name):
    serializer = {"json": JsonSerializer, "msgpack": MsgPackSerializer}[name]()
    a = await open_session(url, serializer)
    b = await open_session(url, serializer)
    loop = asyncio.get_running_loop()

    got = loop.create_future()
    await b.subscribe(lambda *args, **kw: got.set_result((args, kw)), "com.interop.topic")
    pub = await a.publish(
        "com.interop.topic", "hello", 42, key="value", options=PublishOptions(acknowledge=True)
    )
    assert pub.id > 0, pub
    args, kw = await asyncio.wait_for(got, TIMEOUT)
    assert args == ("hello", 42) and kw == {"key": "value"}, (args, kw)

    await b.register(lambda x, y: x + y, "com.interop.add")
    result = await asyncio.wait_for(a.call("com.interop.add", 2, 3), TIMEOUT)
    assert result == 5, result

    def fails():
        raise ApplicationError("com.interop.oops", "on purpose")

    await b.register(fails, "com.interop.fails")
    for procedure, error in [
        ("com.interop.fails", "com.interop.oops"),
        ("com.interop.nobody", "wamp.error.no_such_procedure"),
    ]:
        try:
            await asyncio.wait_for(a.call(procedure), TIMEOUT)
            raise AssertionError(f"{procedure}: no error")
        except ApplicationError as e:
            assert e.error == error, (procedure, e.error)

    for s in (a, b):
        await asyncio.wait_for(s.leave(), TIMEOUT)
    print("INTEROP OK", name, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
