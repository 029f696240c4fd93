#!/usr/bin/env python3
"""A call-button device for the anxin device protocol v1, written from protocol/README.md alone.

Standard library only: the protobuf wire format (varints, length-delimited fields, skipping of
unknown fields) is encoded and decoded by hand below; TLS is Python's `ssl` module.

Usage:
    python3 python_device.py --host H[,H2...] --port P --device-id ID --secret S --sequence N
                             [--type sos] [--timeout 30] [--expect-assigned] [--wrong-secret]
                             [--sequence-epoch E] [--no-clock] [--battery PCT]
                             [--tls --ca-file CA [--tls-name NAME] [--tls-cert C --tls-key K]]
                             [--no-device-nonce] [--fallback-type sos] [--cancel[=CALL_ID]]
    python3 python_device.py --self-test

Flow: connect (TLS if asked), receive Challenge, send Hello (HMAC-SHA256 of the nonce keyed with
the secret, plus a fresh device_nonce), expect a Welcome whose server_proof checks out, send one
Alarm with the given sequence and type, wait for the AlarmAck matching the sequence (re-sending
the same alarm after a STORE_UNAVAILABLE nack, or on a new connection after 5 s without an
answer or a lost connection), then with --expect-assigned wait for CallUpdate{OPERATOR_ASSIGNED}
for that call id, sending heartbeats meanwhile; with --cancel, then cancel the call and wait
for the CancelAck.

Prints exactly one JSON line on stdout at the end. Exit code 0 for "acked"/"assigned"/
"cancelled", 3 for "rejected", 4 when no trustworthy server could be reached ("fake_server":
a Welcome without the right server_proof, "tls_error": the TLS handshake or certificate check
failed, "unsupported_server": a Challenge for another protocol version), 1 for everything else
("timeout", "error"). Faults the document says to report are printed to stderr as they happen
and listed under "faults". Other diagnostics go to stderr with -v.
"""

import argparse
import collections
import hashlib
import hmac
import json
import random
import secrets
import select
import socket
import ssl
import sys
import time

# ---------------------------------------------------------------------------------------------
# Constants from the protocol document
# ---------------------------------------------------------------------------------------------

PROTOCOL_VERSION = 1
MAX_BODY = 4096                 # section 3
ACK_TIMEOUT_S = 5.0             # section 5: no answer to an alarm in 5 s -> link presumed dead
HEARTBEAT_ACK_TIMEOUT_S = 10.0  # section 5 / rule 8: no HeartbeatAck in 10 s -> reconnect
DEFAULT_HEARTBEAT_S = 60        # section 5: default when Welcome does not give one
BACKOFF_START_S = 1.0           # section 7 rule 4
BACKOFF_MAX_S = 60.0
BACKOFF_JITTER = 0.2
BACKOFF_RESET_AFTER_S = 60.0    # rule 4: reset once a connection stayed up past Welcome 60 s
RETRY_AFTER_DEFAULT_MS = 1000   # section 5: retry_after_ms 0 means 1,000
RETRY_AFTER_MIN_MS = 100        # ... anything else is clamped into 100..30,000
RETRY_AFTER_MAX_MS = 30000
DEVICE_NONCE_LEN = 32           # section 4: 16 to 64 fresh random bytes
WELCOME_PROOF_LABEL = b"anxin-welcome-v1"  # section 4: the 16 ASCII bytes before the nonces
CONNECT_TIMEOUT_S = 10.0        # our choice: a hung connect/TLS handshake moves on to retrying
SEND_TIMEOUT_S = 10.0           # our choice: a peer that stops reading is a lost link
REPEATED_ERROR_FAULT = 3        # "the same protocol error again and again": 3 in a row
UINT32_MOD = 1 << 32

WT_VARINT, WT_I64, WT_LEN, WT_SGROUP, WT_EGROUP, WT_I32 = 0, 1, 2, 3, 4, 5

ALARM_TYPES = {
    "SOS": 1, "FALL": 2, "MEDICAL": 3, "SMOKE": 4, "INACTIVITY": 5,
    "LOW_BATTERY": 6, "TAMPER": 7, "POWER_LOSS": 8,
}
REJECT_REASONS = {
    0: "REJECT_REASON_UNSPECIFIED", 1: "UNKNOWN_DEVICE", 2: "BAD_HMAC", 3: "UNSUPPORTED_VERSION",
    4: "HANDSHAKE_TIMEOUT", 5: "SERVER_UNAVAILABLE",
}
# Section 4 / rule 5: stop, show a fault. UNKNOWN_DEVICE is no longer sent (an unknown id gets
# BAD_HMAC) but an older server may still send it; it is handled exactly like BAD_HMAC.
FATAL_REJECTS = {1, 2, 3}
NACK_REASONS = {0: "NACK_REASON_UNSPECIFIED", 1: "STORE_UNAVAILABLE", 2: "INVALID_ALARM"}
CALL_STATES = {0: "CALL_STATE_UNSPECIFIED", 1: "RECEIVED", 2: "OFFERED",
               3: "OPERATOR_ASSIGNED", 4: "CLOSED"}
ERROR_CODES = {0: "ERROR_CODE_UNSPECIFIED", 1: "FRAME_TOO_LARGE", 2: "BAD_FRAME",
               3: "BAD_MESSAGE", 4: "UNEXPECTED_MESSAGE", 5: "IDLE_TIMEOUT"}
# Section 5 "Error": these say the device sent bytes it should not have -> log a fault.
FAULT_ERRORS = {1, 2, 3, 4}

VERBOSE = False


def log(*parts):
    if VERBOSE:
        print("[python_device %.3f]" % time.time(), *parts, file=sys.stderr, flush=True)


class ProtocolError(Exception):
    """The peer sent something that is not valid protocol; the connection must be dropped."""


# ---------------------------------------------------------------------------------------------
# Protobuf wire format
# ---------------------------------------------------------------------------------------------

def encode_varint(value):
    """Base-128 varint, least significant group first. Negative values (int64) are encoded as
    their 64-bit two's complement, as protobuf does (10 bytes)."""
    if value < 0:
        value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf, pos):
    """Returns (value, new_pos). Raises ProtocolError when truncated or longer than 10 bytes."""
    result = 0
    shift = 0
    for i in range(10):
        if pos + i >= len(buf):
            raise ProtocolError("truncated varint")
        byte = buf[pos + i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & ((1 << 64) - 1), pos + i + 1
        shift += 7
    raise ProtocolError("varint longer than 10 bytes")


def to_int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def key(field_number, wire_type):
    return encode_varint((field_number << 3) | wire_type)


def field_varint(field_number, value, always=False):
    """A varint field; proto3 leaves out default values (0/false) unless `always`."""
    value = int(value)
    if value == 0 and not always:
        return b""
    return key(field_number, WT_VARINT) + encode_varint(value)


def field_bytes(field_number, data, always=False):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data and not always:
        return b""
    return key(field_number, WT_LEN) + encode_varint(len(data)) + bytes(data)


def field_message(field_number, body):
    """An embedded message; written even when empty (it selects the oneof case)."""
    return key(field_number, WT_LEN) + encode_varint(len(body)) + body


def iter_fields(buf):
    """Yields (field_number, wire_type, value) in wire order.

    varint -> int (unsigned 64-bit), LEN -> bytes, I64/I32 -> raw bytes. Callers ignore the
    numbers they do not know (unknown fields are skipped). Groups (wire types 3/4) are not used
    by proto3 and are rejected as malformed."""
    pos = 0
    n = len(buf)
    while pos < n:
        k, pos = decode_varint(buf, pos)
        field_number = k >> 3
        wire_type = k & 7
        if field_number == 0:
            raise ProtocolError("field number 0")
        if wire_type == WT_VARINT:
            value, pos = decode_varint(buf, pos)
        elif wire_type == WT_LEN:
            length, pos = decode_varint(buf, pos)
            if length > n - pos:
                raise ProtocolError("length-delimited field overruns message")
            value = bytes(buf[pos:pos + length])
            pos += length
        elif wire_type == WT_I64:
            if pos + 8 > n:
                raise ProtocolError("truncated fixed64")
            value = bytes(buf[pos:pos + 8])
            pos += 8
        elif wire_type == WT_I32:
            if pos + 4 > n:
                raise ProtocolError("truncated fixed32")
            value = bytes(buf[pos:pos + 4])
            pos += 4
        else:
            raise ProtocolError("unsupported wire type %d" % wire_type)
        yield field_number, wire_type, value


def parse_fields(buf):
    """Decodes one message into {field_number: [(wire_type, value), ...] in wire order}."""
    fields = {}
    for number, wire_type, value in iter_fields(buf):
        fields.setdefault(number, []).append((wire_type, value))
    return fields


def _last(fields, number, wire_type):
    """Last occurrence wins (protobuf merge semantics for scalars). A field present with an
    unexpected wire type is treated as unknown."""
    for wt, value in reversed(fields.get(number, [])):
        if wt == wire_type:
            return value
    return None


def get_uint(fields, number, bits=64):
    v = _last(fields, number, WT_VARINT)
    return 0 if v is None else v & ((1 << bits) - 1)


def get_int64(fields, number):
    v = _last(fields, number, WT_VARINT)
    return 0 if v is None else to_int64(v)


def get_bool(fields, number):
    return get_uint(fields, number) != 0


def get_bytes(fields, number):
    v = _last(fields, number, WT_LEN)
    return b"" if v is None else v


def get_string(fields, number):
    return get_bytes(fields, number).decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------
# Messages (device.proto)
# ---------------------------------------------------------------------------------------------

# DeviceMessage oneof body: hello = 1, alarm = 2, heartbeat = 3, cancel = 4

def encode_hello(device_id, mac, firmware="python_device/2", sequence_epoch=0, device_nonce=b""):
    # sequence_epoch (field 5, optional): drawn when the counter is (re)initialised; 0 = not sent.
    # device_nonce (field 6, optional): asks the server for Welcome.server_proof; empty = not sent.
    body = (field_bytes(1, device_id) + field_bytes(2, mac)
            + field_varint(3, PROTOCOL_VERSION) + field_bytes(4, firmware)
            + field_varint(5, sequence_epoch) + field_bytes(6, device_nonce))
    return field_message(1, body)


def encode_alarm(sequence, alarm_type, device_time_ms=0, battery_percent=0, has_battery=False):
    body = (field_varint(1, sequence) + field_varint(2, alarm_type)
            + field_varint(3, device_time_ms) + field_varint(4, battery_percent)
            + field_varint(5, has_battery))
    return field_message(2, body)


def encode_heartbeat(battery_percent=0, has_battery=False, device_time_ms=0):
    body = (field_varint(1, battery_percent) + field_varint(2, has_battery)
            + field_varint(3, device_time_ms))
    return field_message(3, body)


def encode_cancel(sequence, call_id=""):
    body = field_varint(1, sequence) + field_bytes(2, call_id)
    return field_message(4, body)


def frame(body):
    if len(body) > MAX_BODY:
        raise ValueError("body of %d bytes exceeds %d" % (len(body), MAX_BODY))
    return encode_varint(len(body)) + body


SERVER_BODIES = {
    1: "challenge", 2: "welcome", 3: "rejected", 4: "alarm_ack", 5: "alarm_nack",
    6: "heartbeat_ack", 7: "cancel_ack", 8: "call_update", 9: "error",
}


def decode_server_message(body):
    """Returns (kind, dict) for a ServerMessage, or (None, None) for an empty or unknown oneof
    body (to be skipped, section 8)."""
    # A oneof: if several cases appear on the wire, the last one wins. Unknown numbers skipped.
    number, value = None, None
    for n, wt, v in iter_fields(body):
        if n in SERVER_BODIES and wt == WT_LEN:
            number, value = n, v
    if number is None:
        return None, None
    f = parse_fields(value)
    kind = SERVER_BODIES[number]
    if kind == "challenge":
        msg = {"nonce": get_bytes(f, 1), "protocol_version": get_uint(f, 2, 32)}
    elif kind == "welcome":
        msg = {"heartbeat_interval_s": get_uint(f, 1, 32), "server_time_ms": get_int64(f, 2),
               "server_proof": get_bytes(f, 3)}
    elif kind == "rejected":
        msg = {"reason": get_uint(f, 1, 32), "detail": get_string(f, 2)}
    elif kind == "alarm_ack":
        msg = {"sequence": get_uint(f, 1, 32), "call_id": get_string(f, 2),
               "duplicate": get_bool(f, 3)}
    elif kind == "alarm_nack":
        msg = {"sequence": get_uint(f, 1, 32), "reason": get_uint(f, 2, 32),
               "retry_after_ms": get_uint(f, 3, 32), "detail": get_string(f, 4)}
    elif kind == "heartbeat_ack":
        msg = {"server_time_ms": get_int64(f, 1)}
    elif kind == "cancel_ack":
        msg = {"sequence": get_uint(f, 1, 32), "call_id": get_string(f, 2),
               "found": get_bool(f, 3)}
    elif kind == "call_update":
        msg = {"call_id": get_string(f, 1), "state": get_uint(f, 2, 32),
               "server_time_ms": get_int64(f, 3), "station_name": get_string(f, 4),
               "outcome": get_string(f, 5)}
    else:  # error
        msg = {"code": get_uint(f, 1, 32), "detail": get_string(f, 2)}
    return kind, msg


# ---------------------------------------------------------------------------------------------
# Protocol rules (small pure functions, so --self-test can check them without a server)
# ---------------------------------------------------------------------------------------------

def handshake_mac(secret, nonce):
    """Section 4: HMAC-SHA256(key = secret as UTF-8, message = the Challenge nonce), raw 32 bytes.
    The device signs whatever nonce bytes it received."""
    return hmac.new(secret.encode("utf-8"), nonce, hashlib.sha256).digest()


def server_proof(secret, challenge_nonce, device_nonce):
    """Section 4: what a genuine Welcome carries when the Hello had a device_nonce."""
    message = WELCOME_PROOF_LABEL + challenge_nonce + device_nonce
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def proof_ok(secret, challenge_nonce, device_nonce, proof):
    """Constant-time check, so a fake server learns nothing from how long the check took.
    A missing proof (empty bytes) never matches the 32-byte expectation."""
    return hmac.compare_digest(server_proof(secret, challenge_nonce, device_nonce), proof)


def next_sequence(previous):
    """Section 5, the one rule: next = (previous + 1) mod 2^32 (after 4294967295 comes 0)."""
    return (previous + 1) % UINT32_MOD


def retry_after_s(retry_after_ms):
    """Section 5: 0 means 1,000 ms; anything else is clamped into 100..30,000 ms, so no answer
    can hold an SOS back for long."""
    if retry_after_ms == 0:
        return RETRY_AFTER_DEFAULT_MS / 1000.0
    return min(max(retry_after_ms, RETRY_AFTER_MIN_MS), RETRY_AFTER_MAX_MS) / 1000.0


# ---------------------------------------------------------------------------------------------
# Framing over a socket
# ---------------------------------------------------------------------------------------------

class FrameReader:
    """Accumulates bytes from recv() and yields complete frame bodies. Handles frames split
    across reads and several frames in one read."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def next_frame(self):
        """Returns one body (bytes) or None if no complete frame is buffered yet."""
        length = 0
        shift = 0
        pos = 0
        while True:
            if pos >= len(self.buf):
                return None  # length prefix not complete yet
            byte = self.buf[pos]
            if pos == 4 and byte & 0xF0:
                raise ProtocolError("bad frame length prefix")  # > 5 bytes or > 32 bits
            length |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                break
            shift += 7
        if length > MAX_BODY:
            raise ProtocolError("frame of %d bytes exceeds maximum %d" % (length, MAX_BODY))
        if len(self.buf) - pos < length:
            return None
        body = bytes(self.buf[pos:pos + length])
        del self.buf[:pos + length]
        return body


class LinkLost(Exception):
    pass


def make_tls_context(ca_file, cert_file=None, key_file=None):
    """Section 2: TLS 1.2 or later; the server's certificate must chain to the CA the device was
    provisioned with (that CA only, not the system store) and carry the name we connect to."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert_file:
        # Optional client certificate (deployments that issue them): its common name must be
        # our device_id, or the Hello is rejected like a wrong secret.
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


class Connection:
    def __init__(self, host, port, timeout, tls_context=None, tls_name=None):
        sock = socket.create_connection((host, port), timeout=max(0.1, timeout))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls_context is not None:
                # The TLS handshake and certificate check happen here, bounded by the connect
                # timeout, so a server that cannot prove who it is raises ssl.SSLError now.
                sock = tls_context.wrap_socket(sock, server_hostname=tls_name or host)
        except BaseException:
            sock.close()
            raise
        sock.setblocking(False)
        self.sock = sock
        self.tls = tls_context is not None
        self.reader = FrameReader()
        self.eof = False

    def send(self, body):
        data = frame(body)
        try:
            # Blocking with a bound: a peer that stops reading is a lost link, not a hang.
            self.sock.settimeout(SEND_TIMEOUT_S)
            self.sock.sendall(data)
        except OSError as e:
            raise LinkLost("send failed: %s" % e)
        finally:
            try:
                self.sock.setblocking(False)
            except OSError:
                pass

    def readable(self, wait_s):
        # TLS decrypts whole records: bytes already decrypted wait inside the SSL object, where
        # select() cannot see them.
        if self.tls and self.sock.pending():
            return True
        try:
            ready, _, _ = select.select([self.sock], [], [], wait_s)
        except (OSError, ValueError) as e:
            raise LinkLost("select failed: %s" % e)
        return bool(ready)

    def receive(self, wait_s):
        """Returns the next decoded (kind, msg), waiting at most wait_s seconds; None on timeout.
        Raises LinkLost on EOF / socket error, ProtocolError on malformed input."""
        end = time.monotonic() + max(0.0, wait_s)
        while True:
            body = self.reader.next_frame()
            if body is not None:
                kind, msg = decode_server_message(body)
                if kind is None:
                    log("skipping ServerMessage with unknown/empty body:", body.hex())
                    continue
                return kind, msg
            if self.eof:
                raise LinkLost("connection closed by server")
            remaining = end - time.monotonic()
            if remaining <= 0 or not self.readable(remaining):
                return None
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                continue  # e.g. only part of a TLS record has arrived
            except OSError as e:
                raise LinkLost("recv failed: %s" % e)
            if not data:
                self.eof = True  # still deliver any complete frames already buffered
            else:
                self.reader.feed(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# Device logic
# ---------------------------------------------------------------------------------------------

HANDSHAKE_WAIT_S = 10.0   # our choice: no Challenge / Welcome within 10 s -> reconnect
CANCEL_OWN_CALL = "<own call>"  # --cancel without a value: cancel the call our alarm made


class Finished(Exception):
    def __init__(self, result, code):
        super().__init__(result.get("result"))
        self.result = result
        self.code = code


def now_ms():
    return int(time.time() * 1000)


class Request:
    """A pending Alarm or Cancel, kept exactly as first sent: every re-send is the same bytes
    (rules 2 and 6), so the server records it once."""

    def __init__(self, kind, sequence, body):
        self.kind = kind
        self.sequence = sequence
        self.body = body


class Heartbeats:
    """Section 5: a Heartbeat every interval, the first one interval after Welcome. The server
    answers each with exactly one HeartbeatAck, in order, so an ack answers the oldest heartbeat
    still unanswered, and that one is what the 10 s timeout watches."""

    def __init__(self, interval_s, now):
        self.interval = interval_s
        self.next_send = now + interval_s
        self.unanswered = collections.deque()  # send times, oldest first

    def due(self, now):
        return now >= self.next_send

    def sent(self, now):
        self.unanswered.append(now)
        self.next_send = now + self.interval

    def acked(self):
        if self.unanswered:
            self.unanswered.popleft()

    def overdue(self, now):
        return bool(self.unanswered) and now >= self.unanswered[0] + HEARTBEAT_ACK_TIMEOUT_S

    def next_event(self):
        if self.unanswered:
            return min(self.next_send, self.unanswered[0] + HEARTBEAT_ACK_TIMEOUT_S)
        return self.next_send


class Device:
    def __init__(self, args):
        self.args = args
        self.secret = args.secret
        if args.wrong_secret:
            # Corrupt the secret: flip the last character (or append one if empty).
            s = self.secret
            self.secret = (s[:-1] + ("0" if s[-1:] != "0" else "1")) if s else "x"
        # Rule 7: several dispatcher addresses are tried in turn.
        self.hosts = [h.strip() for h in args.host.split(",") if h.strip()]
        self.host_index = 0
        self.tried_since_backoff = 0
        self.tls_context = (make_tls_context(args.ca_file, args.tls_cert, args.tls_key)
                            if args.tls else None)
        self.start = time.monotonic()
        self.deadline = self.start + args.timeout
        # The press happens now. Its time is stamped once (0 without a clock) and every re-send
        # carries it unchanged (section 5, "Which alarms are the same press").
        self.device_time_ms = 0 if args.no_clock else now_ms()
        self.alarm_type = args.type
        self.last_sequence = args.sequence   # the counter: the last value used
        self.alarm = self.make_alarm(args.sequence, args.type)
        self.pending = self.alarm            # the Request awaiting its answer, if any
        self.cancel_request = None
        self.cancel_answer = None
        self.answer_due = None               # ack timeout of the latest send
        self.resend_at = None                # after a STORE_UNAVAILABLE nack
        self.conn = None
        self.first_send = None
        self.acked = False
        self.call_id = None
        self.duplicate = False
        self.ack_ms = None
        self.assigned_ms = None
        self.fallback_from = None
        self.updates = []               # states seen for our call, consecutive repeats dropped
        self.early_updates = []         # CallUpdates seen before we knew our call id
        self.sends = 0
        self.connections = 0
        self.backoff = BACKOFF_START_S
        self.welcome_at = None
        self.last_problem = None
        self.faults = []
        # (result, detail) while the latest server reached could not be trusted; cleared by a
        # Welcome that proves itself.
        self.untrusted = None
        self.error_streak = (None, 0)

    def make_alarm(self, sequence, alarm_type):
        body = encode_alarm(sequence, alarm_type, device_time_ms=self.device_time_ms,
                            battery_percent=self.args.battery or 0,
                            has_battery=self.args.battery is not None)
        return Request("alarm", sequence, body)

    def take_sequence(self):
        """Every Alarm and Cancel the device originates takes the next counter value."""
        self.last_sequence = next_sequence(self.last_sequence)
        return self.last_sequence

    # -- result helpers ----------------------------------------------------------------------

    def base_result(self, result):
        out = {"result": result}
        if self.call_id:
            out["call_id"] = self.call_id
        if self.ack_ms is not None:
            out["ack_ms"] = self.ack_ms
        if self.assigned_ms is not None:
            out["assigned_ms"] = self.assigned_ms
        if self.call_id is not None:
            out["updates"] = list(self.updates)
        if self.duplicate:
            out["duplicate"] = True
        out["sequence"] = self.alarm.sequence
        out["alarm_sends"] = self.sends
        if self.fallback_from is not None:
            out["fallback_from"] = self.fallback_from
        if self.cancel_answer is not None:
            out["cancel"] = self.cancel_answer
        if self.faults:
            out["faults"] = list(self.faults)
        return out

    def elapsed_ms(self):
        return round((time.monotonic() - self.first_send) * 1000.0, 1)

    def fault(self, text):
        """What the document calls "report a fault": always shown (stderr), kept for the result."""
        print("[python_device] FAULT: %s" % text, file=sys.stderr, flush=True)
        if text not in self.faults and len(self.faults) < 20:
            self.faults.append(text)

    # -- connection loop ---------------------------------------------------------------------

    def run(self):
        while True:
            if time.monotonic() >= self.deadline:
                self.timeout()
            host = self.hosts[self.host_index]
            try:
                conn = Connection(host, self.args.port,
                                  min(CONNECT_TIMEOUT_S, self.deadline - time.monotonic()),
                                  self.tls_context, self.args.tls_name)
            except ssl.SSLError as e:
                detail = "TLS handshake with %s failed: %s" % (host, e)
                self.untrusted = ("tls_error", detail)
                self.last_problem = detail
                self.fault(detail)
                self.next_address()
                continue
            except OSError as e:
                self.last_problem = "connect to %s failed: %s" % (host, e)
                log(self.last_problem)
                self.next_address()
                continue
            self.connections += 1
            self.conn = conn
            self.welcome_at = None
            try:
                self.session(conn)
            except (LinkLost, ProtocolError) as e:
                self.last_problem = "%s: %s" % (type(e).__name__, e)
                log(self.last_problem)
            finally:
                conn.close()
                self.conn = None
            if (self.welcome_at is not None
                    and time.monotonic() - self.welcome_at >= BACKOFF_RESET_AFTER_S):
                self.backoff = BACKOFF_START_S  # rule 4: that connection stayed up 60 s
            self.next_address()

    def next_address(self):
        """Rule 7: after a failed attempt or a lost connection try the next address; back off
        once every address has been tried since the last back-off (at once with one address)."""
        self.host_index = (self.host_index + 1) % len(self.hosts)
        self.tried_since_backoff += 1
        if self.tried_since_backoff >= len(self.hosts):
            self.tried_since_backoff = 0
            self.sleep_backoff()

    def sleep_backoff(self):
        delay = self.backoff * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self.timeout()
        log("reconnecting in %.2f s" % min(delay, remaining))
        time.sleep(min(delay, remaining))

    def timeout(self):
        if self.untrusted is not None and self.pending is not None:
            # Never got past a server we could not trust: say so rather than "timeout".
            out = self.base_result(self.untrusted[0])
            out["detail"] = self.untrusted[1]
            raise Finished(out, 4)
        out = self.base_result("timeout")
        if self.pending is not None and self.pending.kind == "cancel":
            out["stage"] = "await_cancel_ack"
        elif not self.acked:
            out["stage"] = "handshake" if self.first_send is None else "await_ack"
        else:
            out["stage"] = "await_assigned"
        if self.last_problem:
            out["detail"] = self.last_problem
        raise Finished(out, 1)

    def wait(self, conn, until):
        """receive() bounded by both `until` and the overall deadline."""
        limit = min(until, self.deadline)
        return conn.receive(limit - time.monotonic())

    # -- handshake ---------------------------------------------------------------------------

    def session(self, conn):
        nonce = self.read_challenge(conn)
        # A fresh device_nonce per Hello asks the server to prove it knows our secret.
        device_nonce = b"" if self.args.no_device_nonce else secrets.token_bytes(DEVICE_NONCE_LEN)
        conn.send(encode_hello(self.args.device_id, handshake_mac(self.secret, nonce),
                               sequence_epoch=self.args.sequence_epoch,
                               device_nonce=device_nonce))
        welcome = self.read_welcome(conn)
        self.check_proof(nonce, device_nonce, welcome)
        self.online(conn, welcome)

    def next_handshake_message(self, conn, until, waiting_for):
        msg = self.wait(conn, until)
        if msg is None:
            if time.monotonic() >= self.deadline:
                self.timeout()
            raise LinkLost("no %s within %.0f s" % (waiting_for, HANDSHAKE_WAIT_S))
        return msg

    def read_challenge(self, conn):
        kind, m = self.next_handshake_message(conn, time.monotonic() + HANDSHAKE_WAIT_S,
                                              "Challenge")
        if kind == "error":
            self.on_error(m)
        if kind == "rejected":
            self.on_rejected(m)
        if kind != "challenge":
            raise ProtocolError("expected challenge, got %s" % kind)
        if m["protocol_version"] != PROTOCOL_VERSION:
            # Section 4: a server this device does not support. Reported as a fault; handled
            # like a lost connection (another address or a later attempt may do).
            detail = ("Challenge from %s announces protocol version %d, this device speaks %d"
                      % (self.hosts[self.host_index], m["protocol_version"], PROTOCOL_VERSION))
            self.untrusted = ("unsupported_server", detail)
            self.fault(detail)
            raise LinkLost(detail)
        if len(m["nonce"]) != 32:
            log("warning: nonce is %d bytes, expected 32 (signing it anyway)" % len(m["nonce"]))
        log("challenge nonce", m["nonce"].hex())
        return m["nonce"]

    def read_welcome(self, conn):
        """Welcome or Rejected; anything else before Welcome is skipped."""
        until = time.monotonic() + HANDSHAKE_WAIT_S
        while True:
            kind, m = self.next_handshake_message(conn, until, "Welcome")
            if kind == "welcome":
                return m
            if kind == "rejected":
                self.on_rejected(m)
            if kind == "error":
                self.on_error(m)
            log("ignoring %s before welcome: %r" % (kind, m))

    def check_proof(self, nonce, device_nonce, welcome):
        """Section 4: with a device_nonce, only a Welcome carrying the right server_proof comes
        from a server that knows our secret. Anything else is a fake server: close, treat it like
        a lost connection, report a fault. Nothing pending is sent to it."""
        if device_nonce and not proof_ok(self.secret, nonce, device_nonce,
                                         welcome["server_proof"]):
            what = "without server_proof" if not welcome["server_proof"] else \
                "with a wrong server_proof"
            detail = "fake server at %s: Welcome %s" % (self.hosts[self.host_index], what)
            self.untrusted = ("fake_server", detail)
            self.fault(detail)
            raise LinkLost(detail)
        self.untrusted = None

    # -- online ------------------------------------------------------------------------------

    def online(self, conn, welcome):
        interval = welcome["heartbeat_interval_s"] or DEFAULT_HEARTBEAT_S
        log("welcome: heartbeat_interval_s=%d server_time_ms=%d"
            % (welcome["heartbeat_interval_s"], welcome["server_time_ms"]))
        self.welcome_at = time.monotonic()
        self.answer_due = self.resend_at = None
        # Rule 4: what is pending goes first, before anything else.
        if self.pending is not None:
            self.send_pending()
        else:
            self.check_done()
        heartbeats = Heartbeats(interval, time.monotonic())
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                self.timeout()
            if self.answer_due is not None and now >= self.answer_due:
                # Section 5: the link is presumed dead even if TCP has not noticed; do not keep
                # re-sending on it. run() reconnects and the same request is re-sent there.
                raise LinkLost("no answer to %s sequence %d within %.0f s"
                               % (self.pending.kind, self.pending.sequence, ACK_TIMEOUT_S))
            if heartbeats.overdue(now):
                raise LinkLost("no HeartbeatAck within %.0f s" % HEARTBEAT_ACK_TIMEOUT_S)
            if heartbeats.due(now):
                conn.send(encode_heartbeat(self.args.battery or 0,
                                           self.args.battery is not None, now_ms()))
                heartbeats.sent(now)
                log("heartbeat sent")
            if self.resend_at is not None and now >= self.resend_at:
                log("re-sending %s sequence %d" % (self.pending.kind, self.pending.sequence))
                self.send_pending()
            wake = min(t for t in (heartbeats.next_event(), self.answer_due, self.resend_at)
                       if t is not None)
            msg = self.wait(conn, wake)
            if msg is not None:
                self.dispatch(msg, heartbeats)

    def dispatch(self, msg, heartbeats):
        kind, m = msg
        log("received %s %r" % (kind, m))
        if kind == "alarm_ack":
            self.on_alarm_ack(m)
        elif kind == "alarm_nack":
            self.on_nack(m)
        elif kind == "cancel_ack":
            self.on_cancel_ack(m)
        elif kind == "heartbeat_ack":
            heartbeats.acked()
        elif kind == "call_update":
            if self.call_id is None:
                self.early_updates.append(m)
            else:
                self.on_call_update(m)
        elif kind == "error":
            self.on_error(m)
        elif kind == "rejected":
            self.on_rejected(m)
        else:
            log("ignoring %s after welcome" % kind)

    def send_pending(self):
        req = self.pending
        if req.kind == "alarm":
            if self.first_send is None:
                self.first_send = time.monotonic()
            self.sends += 1
        self.conn.send(req.body)
        log("%s sequence %d sent" % (req.kind, req.sequence))
        self.answer_due = time.monotonic() + ACK_TIMEOUT_S
        self.resend_at = None

    def answers_pending(self, kind, sequence):
        """Answers are matched by sequence (they may come out of order)."""
        return (self.pending is not None and self.pending.kind == kind
                and self.pending.sequence == sequence)

    def answered(self):
        self.pending = None
        self.answer_due = self.resend_at = None
        self.error_streak = (None, 0)

    def on_alarm_ack(self, m):
        if not self.answers_pending("alarm", m["sequence"]):
            log("ignoring AlarmAck for sequence %d" % m["sequence"])
            return
        self.answered()
        self.acked = True
        self.call_id = m["call_id"]
        self.duplicate = m["duplicate"]
        self.ack_ms = self.elapsed_ms()
        for early in self.early_updates:
            self.on_call_update(early)
        self.early_updates = []
        self.check_done()

    def on_nack(self, m):
        # AlarmNack answers Cancels too (store unavailable), matched by the same sequence.
        if self.pending is None or m["sequence"] != self.pending.sequence:
            log("ignoring AlarmNack for sequence %d" % m["sequence"])
            return
        if m["reason"] == 1:  # STORE_UNAVAILABLE: the same request after retry_after_ms
            self.answer_due = None
            self.resend_at = time.monotonic() + retry_after_s(m["retry_after_ms"])
            self.last_problem = "AlarmNack STORE_UNAVAILABLE: %s" % m["detail"]
            return
        self.on_invalid(m)  # INVALID_ALARM (or unknown): re-sending unchanged would not help

    def on_invalid(self, m):
        req = self.pending
        reason = NACK_REASONS.get(m["reason"], str(m["reason"]))
        self.fault("AlarmNack %s for %s sequence %d: %s"
                   % (reason, req.kind, req.sequence, m["detail"]))
        fallback = self.args.fallback_type
        if req.kind == "alarm" and fallback is not None and self.alarm_type != fallback:
            # Section 5: the press again, as a new alarm with the fallback type and the next
            # sequence (same press time: the resident pressed once).
            self.fallback_from = {"sequence": req.sequence, "type": self.alarm_type}
            self.alarm_type = fallback
            self.alarm = self.pending = self.make_alarm(self.take_sequence(), fallback)
            self.send_pending()
            return
        out = self.base_result("error")
        out["error"] = "alarm_nack" if req.kind == "alarm" else "cancel_nack"
        out["reason"] = reason
        out["detail"] = m["detail"]
        raise Finished(out, 1)

    def on_cancel_ack(self, m):
        if not self.answers_pending("cancel", m["sequence"]):
            log("ignoring CancelAck for sequence %d" % m["sequence"])
            return
        self.answered()
        # Section 5: found or not, the cancel is done. found: false means nothing was there to
        # cancel (no open call, unknown / foreign / closed call id) and nothing was recorded.
        self.cancel_answer = {"sequence": m["sequence"], "call_id": m["call_id"],
                              "found": m["found"]}
        raise Finished(self.base_result("cancelled"), 0)

    def on_call_update(self, m):
        if m["call_id"] != self.call_id:
            return  # another (older) call of this device
        state = CALL_STATES.get(m["state"], str(m["state"]))
        if not self.updates or self.updates[-1] != state:
            self.updates.append(state)
        if m["state"] == 3 and self.assigned_ms is None:
            self.assigned_ms = self.elapsed_ms()
        if m["state"] == 4 and self.assigned_ms is None and self.args.expect_assigned:
            out = self.base_result("error")
            out["error"] = "call closed before OPERATOR_ASSIGNED was seen"
            out["outcome"] = m["outcome"]
            raise Finished(out, 1)
        self.check_done()

    def check_done(self):
        if not self.acked:
            return
        if self.args.expect_assigned and self.assigned_ms is None:
            return
        if self.args.cancel is None:
            raise Finished(self.base_result("assigned" if self.args.expect_assigned
                                            else "acked"), 0)
        if self.cancel_request is None:
            self.start_cancel()

    def start_cancel(self):
        call_id = self.call_id if self.args.cancel == CANCEL_OWN_CALL else self.args.cancel
        sequence = self.take_sequence()
        self.cancel_request = self.pending = Request("cancel", sequence,
                                                     encode_cancel(sequence, call_id))
        self.send_pending()

    def on_rejected(self, m):
        reason = REJECT_REASONS.get(m["reason"], str(m["reason"]))
        log("rejected: %s %s" % (reason, m["detail"]))
        if m["reason"] in FATAL_REJECTS:
            self.fault("rejected %s: %s (needs provisioning)" % (reason, m["detail"]))
            out = {"result": "rejected", "reason": reason, "detail": m["detail"]}
            raise Finished(out, 3)
        # HANDSHAKE_TIMEOUT / SERVER_UNAVAILABLE / unknown: reconnect with backoff.
        self.last_problem = "rejected %s: %s" % (reason, m["detail"])
        raise LinkLost(self.last_problem)

    def on_error(self, m):
        """Section 5: an Error is about the connection, never about a request: what is pending
        stays pending and is re-sent after reconnecting."""
        code = ERROR_CODES.get(m["code"], str(m["code"]))
        if m["code"] in FAULT_ERRORS:
            self.fault("server says this device sent bad bytes: Error %s: %s" % (code, m["detail"]))
        same, count = self.error_streak
        count = count + 1 if same == m["code"] else 1
        self.error_streak = (m["code"], count)
        if count >= REPEATED_ERROR_FAULT:
            self.fault("the same Error %s %d+ times in a row after re-sending"
                       % (code, REPEATED_ERROR_FAULT))
        self.last_problem = "server error %s: %s" % (code, m["detail"])
        raise LinkLost(self.last_problem)


# ---------------------------------------------------------------------------------------------
# --self-test: the document's byte examples and rules, checked without a server
# ---------------------------------------------------------------------------------------------

def hx(text):
    return bytes.fromhex(text.replace(" ", ""))


def decode_frame(data):
    """One frame, fed one byte at a time (frames split across reads) -> (kind, msg)."""
    reader = FrameReader()
    for i in range(len(data)):
        reader.feed(data[i:i + 1])
        body = reader.next_frame()
        if body is not None:
            if i != len(data) - 1:
                raise AssertionError("frame ended early")
            return decode_server_message(body)
    raise AssertionError("frame incomplete")


def manual_hmac_sha256(key_bytes, message):
    """RFC 2104 spelled out, so the proof is checked against a second implementation."""
    block = 64
    if len(key_bytes) > block:
        key_bytes = hashlib.sha256(key_bytes).digest()
    key_bytes = key_bytes.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key_bytes) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key_bytes) + inner).digest()


DOC_SECRET = "0123456789abcdef0123456789abcdef"
DOC_NONCE = bytes(range(32))
DOC_MAC = "da7164a2bac13505f97e4d5e630fa9e59f47e8ea74fb7b30c59a1ec4cb355363"


def check_heartbeat_frame():
    return frame(encode_heartbeat(87, True)) == hx("06 1a 04 08 57 10 01")


def check_alarm_frame():
    return (frame(encode_alarm(300, ALARM_TYPES["SOS"], 1763800000000, 87, True))
            == hx("12 12 10 08 ac 02 10 01 18 80 cc b0 d5 aa 33 20 57 28 01"))


def check_challenge_frame():
    kind, m = decode_frame(hx("26 0a 24 0a 20") + DOC_NONCE + hx("10 01"))
    return kind == "challenge" and m["nonce"] == DOC_NONCE and m["protocol_version"] == 1


def check_handshake_hmac():
    return handshake_mac(DOC_SECRET, DOC_NONCE).hex() == DOC_MAC


def doc_hello(**extra):
    # The document's Hello has no firmware field.
    return frame(encode_hello("dev-000001", handshake_mac(DOC_SECRET, DOC_NONCE), firmware="",
                              **extra))


def check_hello_frame():
    data = doc_hello()
    whole = hx("32 0a 30 0a 0a") + b"dev-000001" + hx("12 20") + hx(DOC_MAC) + hx("18 01")
    return (data == whole
            and data.startswith(hx("32 0a 30 0a 0a 64 65 76 2d 30 30 30 30 30 31 12 20 da 71 64"))
            and data.endswith(hx("53 63 18 01")))


def check_welcome_frame():
    kind, m = decode_frame(hx("0b 12 09 08 3c 10 fb cc b0 d5 aa 33"))
    return (kind == "welcome" and m["heartbeat_interval_s"] == 60
            and m["server_time_ms"] == 1763800000123 and m["server_proof"] == b"")


def check_rejected_frame():
    kind, m = decode_frame(hx("1b 1a 19 08 02 12 15") + b"authentication failed")
    return kind == "rejected" and m["reason"] == 2 and m["detail"] == "authentication failed"


def check_epoch_hello():
    data = doc_hello(sequence_epoch=0x1122334455667788)
    return (data.startswith(hx("3c 0a 3a")) and len(data) == 1 + 2 + 58
            and data.endswith(hx("28 88 ef 99 ab c5 e8 8c 91 11"))
            and data[:-10].endswith(hx("18 01")))


def check_device_nonce_field():
    nonce = bytes(range(200, 216))
    data = doc_hello(device_nonce=nonce)
    return data.endswith(hx("32 10") + nonce) and data[1:3] == hx("0a %02x" % (48 + 18))


def check_server_proof():
    # Made-up inputs: a non-ASCII secret (keyed by its UTF-8 bytes), another nonce, a 24-byte
    # device nonce.
    secret, nonce, dnonce = "s3cret-\u00fc", bytes(range(100, 132)), b"\xa5" * 24
    proof = server_proof(secret, nonce, dnonce)
    expected = manual_hmac_sha256(secret.encode("utf-8"), b"anxin-welcome-v1" + nonce + dnonce)
    welcome = field_message(2, field_varint(1, 60) + field_varint(2, 1763800000123)
                            + field_bytes(3, proof))
    kind, m = decode_frame(frame(welcome))
    flipped = bytes([proof[0] ^ 1]) + proof[1:]
    return (len(WELCOME_PROOF_LABEL) == 16 and len(proof) == 32 and proof == expected
            and kind == "welcome" and m["server_proof"] == proof
            and proof_ok(secret, nonce, dnonce, m["server_proof"])
            and not proof_ok(secret, nonce, dnonce, b"")
            and not proof_ok(secret, nonce, dnonce, flipped)
            and not proof_ok(secret, nonce, dnonce, handshake_mac(secret, nonce))
            and not proof_ok(secret, nonce, b"\xa5" * 23 + b"\xa4", proof)
            and not proof_ok(secret + "x", nonce, dnonce, proof))


def check_sequence_wrap():
    return (next_sequence(4294967295) == 0 and next_sequence(0) == 1
            and next_sequence(300) == 301)


def check_retry_after_clamp():
    return ([retry_after_s(ms) for ms in (0, 1, 100, 1000, 30000, 30001, 4294967295)]
            == [1.0, 0.1, 0.1, 1.0, 30.0, 30.0, 30.0])


def check_frame_limits():
    def rejected(prefix):
        reader = FrameReader()
        reader.feed(prefix)
        try:
            reader.next_frame()
        except ProtocolError:
            return True
        return False
    reader = FrameReader()
    reader.feed(hx("80 20"))  # 4096: allowed, body not here yet
    return (reader.next_frame() is None and rejected(hx("81 20"))  # 4097
            and rejected(hx("80 80 80 80 10")) and rejected(hx("80 80 80 80 80 01")))


def check_unknown_skipped():
    # An unknown oneof body (field 10) is skipped; an unknown field inside a Welcome is ignored.
    unknown_body = decode_server_message(hx("52 00"))
    kind, m = decode_server_message(hx("12 05 08 3c 78 96 01"))
    return unknown_body == (None, None) and kind == "welcome" and m["heartbeat_interval_s"] == 60


SELF_TESTS = [
    ("heartbeat frame (section 3)", check_heartbeat_frame),
    ("alarm frame (section 3)", check_alarm_frame),
    ("challenge frame, split across reads (section 4)", check_challenge_frame),
    ("handshake HMAC (section 4)", check_handshake_hmac),
    ("hello frame (section 4)", check_hello_frame),
    ("welcome frame (section 4)", check_welcome_frame),
    ("rejected frame 'authentication failed' (section 4)", check_rejected_frame),
    ("hello with sequence_epoch 0x1122334455667788 (section 4)", check_epoch_hello),
    ("hello with device_nonce, field 6", check_device_nonce_field),
    ("server_proof: 32-byte HMAC over label || nonce || device_nonce", check_server_proof),
    ("sequence wrap: next = (previous + 1) mod 2^32", check_sequence_wrap),
    ("retry_after_ms: 0 -> 1000, clamped to 100..30000", check_retry_after_clamp),
    ("frame length limits (section 3)", check_frame_limits),
    ("unknown bodies and fields skipped (section 8)", check_unknown_skipped),
]


def self_test():
    failed = []
    for name, check in SELF_TESTS:
        try:
            ok = bool(check())
        except Exception as e:  # noqa: BLE001 - a crash is a failed check
            ok = False
            name = "%s (%s: %s)" % (name, type(e).__name__, e)
        print("%s %s" % ("ok  " if ok else "FAIL", name), file=sys.stderr)
        if not ok:
            failed.append(name)
    out = {"result": "self_test_failed" if failed else "self_test_ok", "checks": len(SELF_TESTS)}
    if failed:
        out["failed"] = failed
    print(json.dumps(out, separators=(",", ":")), flush=True)
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

def parse_type(text):
    t = text.strip().upper()
    if t in ALARM_TYPES:
        return ALARM_TYPES[t]
    try:
        return int(t, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("unknown alarm type %r" % text)


def parse_sequence(text):
    v = int(text, 0)
    if not 0 <= v <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError("sequence must be a uint32")
    return v


def build_parser():
    p = argparse.ArgumentParser(description="anxin protocol v1 call-button device")
    p.add_argument("--host", help="dispatcher host; several, comma-separated, are tried in turn")
    p.add_argument("--port", type=int)
    p.add_argument("--device-id")
    p.add_argument("--secret")
    p.add_argument("--sequence", type=parse_sequence)
    p.add_argument("--type", default="sos", type=parse_type,
                   help="sos, fall, medical, smoke, inactivity, low_battery, tamper, "
                        "power_loss, or a number")
    p.add_argument("--timeout", type=float, default=30.0, help="overall time limit, seconds")
    p.add_argument("--expect-assigned", action="store_true")
    p.add_argument("--wrong-secret", action="store_true")
    p.add_argument("--battery", type=int, default=None, help="battery percent to report")
    p.add_argument("--sequence-epoch", type=lambda t: int(t, 0), default=0,
                   help="Hello.sequence_epoch (a 64-bit number, e.g. 0x1122334455667788; 0: not sent)")
    p.add_argument("--no-clock", action="store_true",
                   help="a device without a set clock: device_time_ms 0")
    p.add_argument("--tls", action="store_true", help="TLS 1.2+ to the device port")
    p.add_argument("--ca-file", help="with --tls: the CA (PEM) the server certificate must chain to")
    p.add_argument("--tls-name", help="with --tls: the name to verify (default: the --host used)")
    p.add_argument("--tls-cert", help="with --tls: client certificate (PEM), CN = device id")
    p.add_argument("--tls-key", help="with --tls-cert: its private key (PEM), if not in the cert")
    p.add_argument("--no-device-nonce", action="store_true",
                   help="behave like an older device: no Hello.device_nonce, no server_proof check")
    p.add_argument("--fallback-type", type=parse_type, default=None,
                   help="after INVALID_ALARM, press again with this type and the next sequence")
    p.add_argument("--cancel", nargs="?", const=CANCEL_OWN_CALL, default=None, metavar="CALL_ID",
                   help="after the ack (and OPERATOR_ASSIGNED with --expect-assigned) send a "
                        "Cancel for our call, or for CALL_ID ('' = most recent open call)")
    p.add_argument("--self-test", action="store_true",
                   help="check the document's byte examples without a server, then exit")
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return p


def check_args(p, args):
    missing = [name for name in ("host", "port", "device_id", "secret", "sequence")
               if getattr(args, name) is None]
    if missing:
        p.error("required: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    if args.tls and not args.ca_file:
        p.error("--tls needs --ca-file (the server certificate is verified against it)")
    if not args.tls and (args.ca_file or args.tls_name or args.tls_cert):
        p.error("--ca-file, --tls-name and --tls-cert need --tls")
    if args.tls_key and not args.tls_cert:
        p.error("--tls-key needs --tls-cert")


def main(argv=None):
    global VERBOSE
    p = build_parser()
    args = p.parse_args(argv)
    VERBOSE = args.verbose
    if args.self_test:
        return self_test()
    check_args(p, args)

    try:
        device = Device(args)
        device.run()
        out, code = {"result": "error", "error": "unreachable"}, 1
    except Finished as f:
        out, code = f.result, f.code
    except KeyboardInterrupt:
        out, code = {"result": "error", "error": "interrupted"}, 1
    except Exception as e:  # noqa: BLE001 - always print one JSON line
        out, code = {"result": "error", "error": "%s: %s" % (type(e).__name__, e)}, 1
    print(json.dumps(out, separators=(",", ":")), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
