"""A worker written with the official Python SDK (iii-sdk), for the Rust
interop test (tests/tests/e2e/python_interop.rs).

    python channel_peer.py PREFIX

registers four functions:

- PREFIX::ping    anything -> "pong" (for the test to see it is served)
- PREFIX::sink    {"input": read ref}  -> {"len", "mismatch", "messages"}
- PREFIX::source  {"output": write ref, "n", "hello"} -> {"written"}
- PREFIX::relay   {"target": function id, "n"} -> what the target returned:
                  creates a channel itself, calls the target with its
                  reader ref as "data", and writes n bytes to it.

Byte i of every stream is i % 251, as on the Rust side. Prints "ready" once
the functions are registered, then serves until stdin closes.
"""

import os
import sys

from iii import InitOptions, register_worker
from iii.channel import ChannelReader, ChannelWriter
from iii.helpers import create_channel_async

CHUNK = 64 * 1024


def pattern(offset, length):
    return bytes((offset + i) % 251 for i in range(length))


async def sink(data):
    reader = data["input"]
    if not isinstance(reader, ChannelReader):
        raise TypeError(f"input is not a reader: {type(reader).__name__}")
    messages = []
    reader.on_message(messages.append)
    length, mismatch = 0, None
    async for chunk in reader:
        if mismatch is None and chunk != pattern(length, len(chunk)):
            mismatch = length
        length += len(chunk)
    return {"len": length, "mismatch": mismatch, "messages": messages}


async def write_pattern(writer, n):
    written = 0
    while written < n:
        chunk = pattern(written, min(CHUNK, n - written))
        await writer.write(chunk)
        written += len(chunk)
    await writer.close_async()
    return written


async def source(data):
    writer = data["output"]
    if not isinstance(writer, ChannelWriter):
        raise TypeError(f"output is not a writer: {type(writer).__name__}")
    if data.get("hello"):
        await writer.send_message_async(data["hello"])
    return {"written": await write_pattern(writer, int(data["n"]))}


def main():
    prefix = sys.argv[1]
    iii = register_worker(
        os.environ["III_URL"],
        InitOptions(
            worker_name=f"{prefix}-python",
            otel={"enabled": False},
            enable_metrics_reporting=False,
        ),
    )

    async def relay(data):
        import asyncio

        channel = await create_channel_async(iii)
        call = asyncio.ensure_future(
            iii.trigger_async(
                {"function_id": data["target"], "payload": {"data": channel.reader_ref}}
            )
        )
        await write_pattern(channel.writer, int(data["n"]))
        return await call

    async def ping(_data):
        return "pong"

    iii.register_function(f"{prefix}::ping", ping)
    iii.register_function(f"{prefix}::sink", sink)
    iii.register_function(f"{prefix}::source", source)
    iii.register_function(f"{prefix}::relay", relay)
    print("ready", flush=True)
    sys.stdin.read()
    iii.shutdown()


if __name__ == "__main__":
    main()
