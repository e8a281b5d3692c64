"""PgBouncer's admin console (the special database `pgbouncer`): its settings, for the sizing check behind PgBouncer.

The console speaks only PostgreSQL's simple query protocol, whose rows asyncpg does not return, so this is a minimal
client of its own: connect without TLS, authenticate (trust, password, md5 or SCRAM-SHA-256), send one query, read
its rows. PgBouncer lets in the users listed in its admin_users or stats_users (SHOW CONFIG is allowed to both).
"""

import asyncio
import base64
import hashlib
import hmac
import secrets
import struct

PROTOCOL_VERSION = 196608  # 3.0
AUTH_OK, AUTH_CLEARTEXT, AUTH_MD5, AUTH_SASL, AUTH_SASL_CONTINUE, AUTH_SASL_FINAL = 0, 3, 5, 10, 11, 12
SCRAM = "SCRAM-SHA-256"


class ConsoleError(Exception):
    """The console refused the user (not in admin_users or stats_users, a wrong password) or could not be read."""


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


async def receive(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The next message: its type and its payload; an ErrorResponse raises ConsoleError with the server's words."""
    head = await reader.readexactly(5)
    kind, length = head[:1], struct.unpack("!i", head[1:])[0]
    payload = await reader.readexactly(length - 4)
    if kind == b"E":
        fields = {part[:1]: part[1:].decode(errors="replace") for part in payload.split(b"\0") if part}
        raise ConsoleError(fields.get(b"M", "refused"))
    return kind, payload


class Scram:
    """The client side of SCRAM-SHA-256 (RFC 5802/7677), as PostgreSQL and PgBouncer use it (no channel binding)."""

    def __init__(self, password: str) -> None:
        self.password = password.encode()
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"  # the user name is the startup message's
        self.auth_message = b""
        self.salted = b""

    def first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        fields = dict(part.split("=", 1) for part in server_first.decode().split(","))
        if not fields["r"].startswith(self.nonce):
            raise ConsoleError("SCRAM: the server's nonce does not extend ours")
        self.salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.digest(self.salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={fields['r']}"
        self.auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), self.auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        server_key = hmac.digest(self.salted, b"Server Key", "sha256")
        expected = base64.b64encode(hmac.digest(server_key, self.auth_message, "sha256")).decode()
        if server_final.decode() != f"v={expected}":
            raise ConsoleError("SCRAM: the server's signature does not match")


async def authenticate(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, user: str, password: str | None
) -> None:
    """Answer the authentication requests until the console is ready for a query."""
    scram: Scram | None = None
    while True:
        kind, payload = await receive(reader)
        if kind == b"Z":
            return
        if kind != b"R":
            continue  # ParameterStatus, BackendKeyData, notices
        (request,) = struct.unpack("!i", payload[:4])
        if request == AUTH_OK:
            continue
        if password is None:
            raise ConsoleError("it asks for a password and DATABASE_URL has none")
        if request == AUTH_CLEARTEXT:
            writer.write(message(b"p", f"{password}\0".encode()))
        elif request == AUTH_MD5:
            inner = hashlib.md5(f"{password}{user}".encode()).hexdigest().encode()
            writer.write(message(b"p", b"md5" + hashlib.md5(inner + payload[4:8]).hexdigest().encode() + b"\0"))
        elif request == AUTH_SASL and SCRAM in payload[4:].decode().split("\0"):
            scram = Scram(str(password))
            first = scram.first()
            writer.write(message(b"p", SCRAM.encode() + b"\0" + struct.pack("!i", len(first)) + first))
        elif request == AUTH_SASL_CONTINUE and scram is not None:
            writer.write(message(b"p", scram.final(payload[4:])))
        elif request == AUTH_SASL_FINAL and scram is not None:
            scram.verify(payload[4:])
        else:
            raise ConsoleError(f"unsupported authentication request {request}")
        await writer.drain()


def data_row(payload: bytes) -> list[str | None]:
    (count,) = struct.unpack("!h", payload[:2])
    values: list[str | None] = []
    offset = 2
    for _ in range(count):
        (length,) = struct.unpack("!i", payload[offset : offset + 4])
        offset += 4
        if length < 0:
            values.append(None)
            continue
        values.append(payload[offset : offset + length].decode(errors="replace"))
        offset += length
    return values


async def show_config(host: str, port: int, user: str, password: str | None) -> dict[str, str]:
    """PgBouncer's settings (SHOW CONFIG): name -> value. Raises ConsoleError when refused, OSError when unreachable."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        startup = f"user\0{user}\0database\0pgbouncer\0\0".encode()
        writer.write(struct.pack("!ii", len(startup) + 8, PROTOCOL_VERSION) + startup)
        await writer.drain()
        await authenticate(reader, writer, user, password)
        writer.write(message(b"Q", b"SHOW CONFIG\0"))
        await writer.drain()
        settings: dict[str, str] = {}
        while True:
            kind, payload = await receive(reader)
            if kind == b"Z":
                return settings
            if kind == b"D":
                name, value, *_ = data_row(payload)
                if name is not None and value is not None:
                    settings[name] = value
    except asyncio.IncompleteReadError as error:
        raise ConsoleError("the connection closed during the exchange") from error
    finally:
        writer.close()
