#!/usr/bin/env python3
"""A call-button device for the anxin device protocol v1, written from protocol/README.md alone.

Standard library only: the protobuf wire format (varints, length-delimited fields, skipping of
unknown fields) is encoded and decoded by hand below.

Usage:
    python3 python_device.py --host H --port P --device-id ID --secret S --sequence N
                             [--type sos] [--timeout 30] [--expect-assigned] [--wrong-secret]

Flow: connect, receive Challenge, send Hello (HMAC-SHA256 of the nonce keyed with the secret),
expect Welcome, send one Alarm with the given sequence and type, wait for the AlarmAck matching
the sequence (re-sending the same alarm every 5 s without an ack, after a STORE_UNAVAILABLE nack,
or after a lost connection), then with --expect-assigned wait for CallUpdate{OPERATOR_ASSIGNED}
for that call id, sending heartbeats meanwhile.

Prints exactly one JSON line on stdout at the end. Exit code 0 for "acked"/"assigned", 3 for
"rejected", 1 for everything else ("timeout", "error"). Diagnostics go to stderr.
"""

import argparse
import hashlib
import hmac
import json
import random
import select
import socket
import sys
import time

# ---------------------------------------------------------------------------------------------
# Constants from the protocol document
# ---------------------------------------------------------------------------------------------

PROTOCOL_VERSION = 1
MAX_BODY = 4096                 # section 3
ACK_TIMEOUT_S = 5.0             # sections 6 and 7: re-send after 5 s without ack
DEFAULT_HEARTBEAT_S = 60        # section 5: default when Welcome does not give one
BACKOFF_START_S = 1.0           # section 7 rule 4
BACKOFF_MAX_S = 60.0
BACKOFF_JITTER = 0.2

WT_VARINT, WT_I64, WT_LEN, WT_SGROUP, WT_EGROUP, WT_I32 = 0, 1, 2, 3, 4, 5

ALARM_TYPES = {
    "SOS": 1, "FALL": 2, "MEDICAL": 3, "SMOKE": 4, "INACTIVITY": 5,
    "LOW_BATTERY": 6, "TAMPER": 7, "POWER_LOSS": 8,
}
REJECT_REASONS = {
    0: "REJECT_REASON_UNSPECIFIED", 1: "UNKNOWN_DEVICE", 2: "BAD_HMAC", 3: "UNSUPPORTED_VERSION",
    4: "HANDSHAKE_TIMEOUT", 5: "SERVER_UNAVAILABLE",
}
FATAL_REJECTS = {1, 2, 3}       # section 7 rule 5: stop, show a fault
NACK_REASONS = {0: "NACK_REASON_UNSPECIFIED", 1: "STORE_UNAVAILABLE", 2: "INVALID_ALARM"}
CALL_STATES = {0: "CALL_STATE_UNSPECIFIED", 1: "RECEIVED", 2: "OFFERED",
               3: "OPERATOR_ASSIGNED", 4: "CLOSED"}
ERROR_CODES = {0: "ERROR_CODE_UNSPECIFIED", 1: "FRAME_TOO_LARGE", 2: "BAD_FRAME",
               3: "BAD_MESSAGE", 4: "UNEXPECTED_MESSAGE", 5: "IDLE_TIMEOUT"}

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

def encode_hello(device_id, mac, firmware="python_device/1", sequence_epoch=0):
    # sequence_epoch (field 5, optional): drawn when the counter is (re)initialised; 0 = not sent.
    body = (field_bytes(1, device_id) + field_bytes(2, mac)
            + field_varint(3, PROTOCOL_VERSION) + field_bytes(4, firmware)
            + field_varint(5, sequence_epoch))
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
        msg = {"heartbeat_interval_s": get_uint(f, 1, 32), "server_time_ms": get_int64(f, 2)}
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


class Connection:
    def __init__(self, host, port, timeout):
        self.sock = socket.create_connection((host, port), timeout=max(0.1, timeout))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.reader = FrameReader()
        self.eof = False

    def send(self, body):
        data = frame(body)
        self.sock.setblocking(True)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise LinkLost("send failed: %s" % e)
        finally:
            try:
                self.sock.setblocking(False)
            except OSError:
                pass

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
            if remaining <= 0:
                return None
            try:
                ready, _, _ = select.select([self.sock], [], [], remaining)
            except (OSError, ValueError) as e:
                raise LinkLost("select failed: %s" % e)
            if not ready:
                return None
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
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

class Finished(Exception):
    def __init__(self, result, code):
        super().__init__(result.get("result"))
        self.result = result
        self.code = code


def now_ms():
    return int(time.time() * 1000)


class Device:
    def __init__(self, args):
        self.args = args
        self.secret = args.secret
        if args.wrong_secret:
            # Corrupt the secret: flip the last character (or append one if empty).
            s = self.secret
            self.secret = (s[:-1] + ("0" if s[-1:] != "0" else "1")) if s else "x"
        self.start = time.monotonic()
        self.deadline = self.start + args.timeout
        # The pending alarm ("press" happens now; re-sends are identical, section 7 rule 2).
        # The press time is stamped once (0 without a clock) and re-sent unchanged.
        self.alarm_body = encode_alarm(args.sequence, args.type,
                                       device_time_ms=0 if args.no_clock else now_ms(),
                                       battery_percent=args.battery or 0,
                                       has_battery=args.battery is not None)
        self.first_send = None
        self.acked = False
        self.call_id = None
        self.duplicate = False
        self.ack_ms = None
        self.assigned_ms = None
        self.updates = []               # states seen for our call, consecutive repeats dropped
        self.early_updates = []         # CallUpdates seen before we knew our call id
        self.sends = 0
        self.connections = 0
        self.backoff = BACKOFF_START_S
        self.last_problem = None

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
        out["sequence"] = self.args.sequence
        out["alarm_sends"] = self.sends
        return out

    def elapsed_ms(self):
        return round((time.monotonic() - self.first_send) * 1000.0, 1)

    # -- main loop ---------------------------------------------------------------------------

    def run(self):
        while True:
            if time.monotonic() >= self.deadline:
                self.timeout()
            try:
                conn = Connection(self.args.host, self.args.port,
                                  self.deadline - time.monotonic())
            except OSError as e:
                self.last_problem = "connect failed: %s" % e
                log(self.last_problem)
                self.sleep_backoff()
                continue
            self.connections += 1
            try:
                self.session(conn)
            except (LinkLost, ProtocolError) as e:
                self.last_problem = "%s: %s" % (type(e).__name__, e)
                log(self.last_problem)
            finally:
                conn.close()
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
        out = self.base_result("timeout")
        if not self.acked:
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

    def session(self, conn):
        # 1. Challenge (sent by the server at once).
        msg = self.wait(conn, self.deadline)
        if msg is None:
            self.timeout()
        kind, m = msg
        if kind == "error":
            self.on_error(m)
        if kind != "challenge":
            raise ProtocolError("expected challenge, got %s" % kind)
        nonce = m["nonce"]
        if len(nonce) != 32:
            log("warning: nonce is %d bytes, expected 32" % len(nonce))
        if m["protocol_version"] not in (0, PROTOCOL_VERSION):
            log("warning: server announces protocol version %d" % m["protocol_version"])
        log("challenge nonce", nonce.hex())

        # 2. Hello.
        mac = hmac.new(self.secret.encode("utf-8"), nonce, hashlib.sha256).digest()
        conn.send(encode_hello(self.args.device_id, mac,
                               sequence_epoch=self.args.sequence_epoch))

        # 3. Welcome or Rejected. CallUpdates only come after Welcome, but tolerate anything
        #    that is not for the handshake by skipping it.
        while True:
            msg = self.wait(conn, self.deadline)
            if msg is None:
                self.timeout()
            kind, m = msg
            if kind == "welcome":
                break
            if kind == "rejected":
                self.on_rejected(m)
                return
            if kind == "error":
                self.on_error(m)
            log("ignoring %s before welcome: %r" % (kind, m))
        interval = m["heartbeat_interval_s"] or DEFAULT_HEARTBEAT_S
        log("welcome: heartbeat_interval_s=%d server_time_ms=%d"
            % (m["heartbeat_interval_s"], m["server_time_ms"]))
        self.backoff = BACKOFF_START_S

        # 4. Pending alarm goes first (section 7 rule 4).
        next_resend = None
        if not self.acked:
            next_resend = self.send_alarm(conn)
        else:
            self.check_done()

        next_heartbeat = time.monotonic() + interval
        unacked_heartbeats = 0

        while True:
            now = time.monotonic()
            if now >= self.deadline:
                self.timeout()
            if now >= next_heartbeat:
                if unacked_heartbeats >= 2:
                    raise LinkLost("no HeartbeatAck for 2 intervals")
                conn.send(encode_heartbeat(self.args.battery or 0,
                                           self.args.battery is not None, now_ms()))
                unacked_heartbeats += 1
                next_heartbeat = now + interval
                log("heartbeat sent")
            if next_resend is not None and now >= next_resend:
                log("no ack for sequence %d, re-sending" % self.args.sequence)
                next_resend = self.send_alarm(conn)
            wake = next_heartbeat
            if next_resend is not None:
                wake = min(wake, next_resend)
            msg = self.wait(conn, wake)
            if msg is None:
                continue
            kind, m = msg
            log("received %s %r" % (kind, m))
            if kind == "alarm_ack":
                if m["sequence"] != self.args.sequence:
                    continue  # not ours (cannot happen with one alarm, but match by sequence)
                if not self.acked:
                    self.acked = True
                    self.call_id = m["call_id"]
                    self.duplicate = m["duplicate"]
                    self.ack_ms = self.elapsed_ms()
                    for early in self.early_updates:
                        self.on_call_update(early)
                    self.early_updates = []
                next_resend = None
                self.check_done()
            elif kind == "alarm_nack":
                if m["sequence"] != self.args.sequence or self.acked:
                    continue
                reason = NACK_REASONS.get(m["reason"], str(m["reason"]))
                if m["reason"] == 1:  # STORE_UNAVAILABLE: same alarm after retry_after_ms
                    delay = (m["retry_after_ms"] or 1000) / 1000.0
                    self.last_problem = "AlarmNack STORE_UNAVAILABLE: %s" % m["detail"]
                    next_resend = time.monotonic() + delay
                else:  # INVALID_ALARM (or unknown): do not re-send unchanged
                    out = self.base_result("error")
                    out["error"] = "alarm_nack"
                    out["reason"] = reason
                    out["detail"] = m["detail"]
                    raise Finished(out, 1)
            elif kind == "heartbeat_ack":
                unacked_heartbeats = 0
            elif kind == "call_update":
                if self.call_id is None:
                    self.early_updates.append(m)
                else:
                    self.on_call_update(m)
            elif kind == "error":
                self.on_error(m)
            elif kind == "rejected":
                self.on_rejected(m)
                return
            else:
                log("ignoring %s after welcome" % kind)

    def send_alarm(self, conn):
        if self.first_send is None:
            self.first_send = time.monotonic()
        conn.send(self.alarm_body)
        self.sends += 1
        log("alarm sequence %d sent (send #%d)" % (self.args.sequence, self.sends))
        return time.monotonic() + ACK_TIMEOUT_S

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
        if not self.args.expect_assigned:
            raise Finished(self.base_result("acked"), 0)
        if self.assigned_ms is not None:
            raise Finished(self.base_result("assigned"), 0)

    def on_rejected(self, m):
        reason = REJECT_REASONS.get(m["reason"], str(m["reason"]))
        log("rejected: %s %s" % (reason, m["detail"]))
        if m["reason"] in FATAL_REJECTS:
            out = {"result": "rejected", "reason": reason, "detail": m["detail"]}
            raise Finished(out, 3)
        # HANDSHAKE_TIMEOUT / SERVER_UNAVAILABLE / unknown: reconnect with backoff.
        self.last_problem = "rejected %s: %s" % (reason, m["detail"])
        raise LinkLost(self.last_problem)

    def on_error(self, m):
        code = ERROR_CODES.get(m["code"], str(m["code"]))
        self.last_problem = "server error %s: %s" % (code, m["detail"])
        raise LinkLost(self.last_problem)


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


def main(argv=None):
    global VERBOSE
    p = argparse.ArgumentParser(description="anxin protocol v1 call-button device")
    p.add_argument("--host", required=True)
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--device-id", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--sequence", required=True, type=parse_sequence)
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
    p.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    args = p.parse_args(argv)
    VERBOSE = args.verbose

    device = Device(args)
    try:
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
