#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/<target>/ (files named seed-*): valid and
near-valid inputs taken from protocol/README.md, protocol/CONSOLE.md and docs/HTTP_API.md; and the
dictionaries tests/fuzz/dict/<target>.dict (field names from the .proto files, HTTP tokens). The
rest of each corpus is what the fuzzer found worth keeping (-merge=1; docs/SECURITY.md
"Fuzzing"). Run it again after changing a schema or a document example; it only rewrites seed-*
and the dictionaries.

    python3 tests/fuzz/make_seeds.py
"""
import json
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
PROTOCOL = HERE.parent.parent / "protocol"


# --- a protobuf encoder, just enough for the device messages -----------------------------------
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, value):
    """A field: int -> varint (wire type 0), bytes/str -> length-delimited (wire type 2)."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, str):
        value = value.encode()
    return varint(number << 3 | 2) + varint(len(value)) + value


def msg(*fields):
    return b"".join(field(n, v) for n, v in fields if v not in (0, b"", ""))


def frame(body):
    return varint(len(body)) + body


# DeviceMessage: hello=1, alarm=2, heartbeat=3, cancel=4 (protocol/device.proto).
hello = msg((1, msg((1, "dev-000001"), (2, bytes(range(32))), (3, 1), (4, "wall-unit 2.4.1"),
                   (5, 0x1234_5678_9ABC_DEF0), (6, bytes(16)))))
hello_plain = msg((1, msg((1, "dev-000068"), (2, b"\xa5" * 32), (3, 1))))
alarm_sos = msg((2, msg((1, 7), (2, 1), (3, 1_795_398_029_607), (4, 87), (5, 1))))
alarm_fall_no_time = msg((2, msg((1, 8), (2, 2))))
alarm_bad_type = msg((2, msg((1, 9), (2, 42))))
heartbeat = msg((3, msg((1, 55), (2, 1), (3, 1_795_398_000_000))))
cancel = msg((4, msg((1, 10), (2, "C0000042"))))
cancel_latest = msg((4, msg((1, 11),)))
# ServerMessage bodies (device-sim parses these): challenge=1, welcome=2, alarm_ack=4.
challenge = msg((1, msg((1, bytes(32)), (2, 1))))
welcome = msg((2, msg((1, 60), (2, 1_795_398_000_000), (3, bytes(32)))))
ack = msg((4, msg((1, 7), (2, "C0000042"), (3, 1))))

device_frames = {
    "hello": frame(hello),
    "session": frame(hello) + frame(alarm_sos) + frame(heartbeat) + frame(cancel),
    "resend": frame(hello_plain) + frame(alarm_sos) + frame(alarm_sos) + frame(alarm_fall_no_time)
    + frame(alarm_fall_no_time),
    "bad-alarm-type": frame(hello_plain) + frame(alarm_bad_type) + frame(cancel_latest),
    "server-messages": frame(challenge) + frame(welcome) + frame(ack),
    "empty-frame": frame(b"") + frame(heartbeat),
    "overlong-length": b"\x80\x00" + b"\x81\x00\x08" + frame(heartbeat),
    "too-large": varint(4097) + b"\x00" * 16,
    "largest-allowed": varint(4096) + b"\x1a\xfd\x1f" + b"x" * 4093,
    "bad-varint": b"\xff\xff\xff\xff\x1f",
    "five-byte-varint": b"\xff\xff\xff\xff\x0f",
    "truncated": frame(hello)[:-5],
    "not-a-message": frame(b"\xff\xff\xff"),
}

# --- console (protocol/CONSOLE.md) ------------------------------------------------------------
console = {
    "login": '{"req":"1","login":{"operator_id":"op-001-2","password":"anxin-demo"}}',
    "login-token": '{"req":"r7","login":{"session_token":"3q2-7w_Zx0c"}}',
    "accept": '{"req":"2","accept":{"call_id":"C0000042"}}',
    "note": '{"req":"3","add_note":{"call_id":"C0000042","text":"Phoned back, she fell in the '
            'kitchen. 女儿已通知\\u2028second line"}}',
    "close": '{"req":"4","close":{"call_id":"C0000042","outcome":"staff_visited",'
             '"note":"Helped up, no injury."}}',
    "ping": '{"ping":{}}',
    "logout": '{"req":"9","logout":{}}',
    "status": '{"req":"5","set_status":{"status":"away"}}',
    "transfer": '{"req":"6","transfer":{"call_id":"C0000042","station_id":"st-002",'
                '"note":"nearer"}}',
    "camel-case": '{"req":"7","addNote":{"callId":"C1","text":"x"}}',
    "unknown-field": '{"req":"8","accept":{"call_id":"C1","extra":1}}',
    "two-bodies": '{"accept":{"call_id":"C1"},"close":{"call_id":"C1"}}',
    "wrong-type": '{"req":5,"accept":{"call_id":["C1"]}}',
    "escapes": '{"req":"\\ud83d\\ude91 \\u0000 \\"<b>","ping":{}}',
    "lone-surrogate": '{"req":"\\ud800","ping":{}}',
    "not-json": '{"req":"1",',
    "binary-frame": b'{"req":"\xb0\xff","ping":{}}',
}

# --- proto_json: selector byte (message type | mode << 3), then the message ----------------------
offer = ('{"offer":{"call":{"id":"C0000042","state":"offered","alarm_type":"fall","device_id":'
         '"dev-000068","resident_id":"res-000068","received_ms":"1795398029607","station_id":'
         '"st-063","station_name":"杨庄街道第2养老服务驿站","distance_km":0.17,"priority":1,'
         '"priority_name":"emergency","tier_station_ids":["st-063","st-064"],"notes":[{"time_ms":'
         '"1","operator_id":"op-1","text":"line\\nnext \\u00ad\\u200b"}]},"resident":{"id":'
         '"res-000068","name":"徐建国","lat":39.9,"lon":116.6,"age":87,"key_holders":[{"name":'
         '"王丽","relation":"daughter","phone":"13900000001"}],"devices":[{"id":"dev-000068",'
         '"battery_percent":-1,"last_seen_ms":"1795398000000","online":true}]}}}')
proto_json = {
    "event-offer": bytes([0 | 1 << 3]) + offer.encode(),
    "event-error": bytes([0 | 1 << 3]) + b'{"req":"r","error":{"code":"bad_request","message":"x"}}',
    "request-login": bytes([1 | 1 << 3]) + console["login"].encode(),
    "call-record": bytes([2 | 1 << 3]) + json.dumps(
        {"call": {"id": "C1", "distance_km": 1e-7}, "history": [
            {"time_ms": "-5", "event": "received", "actor": "device:dev-1"}]}).encode(),
    "report": bytes([3 | 1 << 3]) + json.dumps(
        {"from_ms": "1", "to_ms": "9", "calls": 3, "share_within_60s": 0.3333333333333333,
         "share_within_180s": 1.0, "by_type": [{"key": "sos", "calls": 2}],
         "devices_offline_now": ["dev-1"]}).encode(),
    "overview": bytes([4 | 1 << 3]) + b'{"server_time_ms":"1795398000000"}',
    "server-challenge": bytes([5 | 1 << 3]) + b'{"challenge":{"nonce":"AAECAw==","protocol_version":1}}',
    "device-hello-binary": bytes([6]) + hello,
    "device-alarm-binary": bytes([6]) + alarm_sos,
    "server-ack-binary": bytes([5]) + ack,
    "provision": bytes([7 | 1 << 3]) + b'{"stations":[{"id":"st-1","name":"A","lat":39.9,"lon":116.6}]}',
    "raw-bytes": bytes([2 << 3]) + b"ok \xe2\x80\xa8 \xc2\x89 \xb0 \xf0\x9f\x9a\x91 \xed\xa0\x80",
    "floats": bytes([0 | 1 << 3]) + b'{"offer":{"call":{"distance_km":"NaN"},"resident":{"lat":-0.0,"lon":"Infinity"}}}',
}

# --- HTTP (docs/HTTP_API.md) ------------------------------------------------------------------
provision_body = json.dumps({
    "stations": [{"id": "st-001", "name": "中仓街道第1养老服务驿站", "area": "中仓街道",
                  "address": "北京市通州区", "phone": "010-60000001", "lat": 39.9051,
                  "lon": 116.6602}],
    "residents": [{"id": "res-000001", "name": "王桂兰", "address": "3号楼2单元501",
                   "phone": "13800000001", "lat": 39.9060, "lon": 116.6611,
                   "date_of_birth": "1938-05-04", "health_conditions": "heart failure",
                   "medication": "furosemide 40 mg", "gp": "Dr. Zhao, 010-60001234",
                   "key_holders": [{"name": "王丽", "relation": "daughter", "phone": "13900000001"},
                                   {"name": "陈阿姨", "relation": "neighbour",
                                    "phone": "13900000002"}],
                   "devices": [{"id": "dev-000001", "secret": "5f1c0a9e4d7b2c8a",
                                "model": "wall-unit-v1", "heartbeat_interval_s": 60}]}],
    "operators": [{"id": "op-001-1", "name": "刘芳", "station_id": "st-001",
                   "password": "at least 8 chars"},
                  {"id": "sup-1", "name": "周强", "role": "supervisor",
                   "password": "at least 8 chars"}],
}, ensure_ascii=False)


def request(method, target, headers=(), body=b""):
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {target} HTTP/1.1", "Host: dispatcher:8080", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


auth = "Authorization: Bearer 0123456789abcdef0123456789abcdef"
http = {
    "healthz": request("GET", "/healthz"),
    "report": request("GET", "/api/reports?from=2026-01-01&to=2026-02-01&format=csv", [auth]),
    "report-ms": request("GET", "/api/reports?from=1795398000000&to=1795398029607", [auth]),
    "search": request("GET", "/api/calls?q=%E7%8E%8B+fall&limit=10&from=0", [auth]),
    "call": request("GET", "/api/calls/C0000042", [auth]),
    "provision": request("POST", "/api/provision", [auth, "Content-Type: application/json"],
                         provision_body),
    "upgrade": request("GET", "/console", ["Upgrade: websocket", "Connection: Upgrade",
                                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                          "Sec-WebSocket-Version: 13"]) + b"\x81\x85\x37\xfa",
    "pipelined": request("GET", "/healthz") + request("GET", "/metrics")
    + request("HEAD", "/index.html", ["Connection: close"]),
    "chunked": b"POST /api/provision HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + auth.encode()
    + b"\r\n\r\n5\r\n{\"sta\r\n3;ext=1\r\ntio\r\n0\r\nTrailer: x\r\n\r\n",
    "http10": b"GET /api/stations HTTP/1.0\r\n" + auth.encode() + b"\r\n\r\n",
    "huge-length": b"POST /api/provision HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{}",
    "bad-header": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "obs-text-target": b"POST /api/\xe7\x8e\x8b\xff HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
}

# --- provisioning bodies ----------------------------------------------------------------------
provision = {
    "doc-example": provision_body,
    "station-only": '{"stations":[{"id":"st-9","name":"x","lat":-90,"lon":180}]}',
    "bad-id": '{"residents":[{"id":"res 1/../x","name":"x","lat":1,"lon":1}]}',
    "bad-dob": '{"residents":[{"id":"r","name":"x","lat":1,"lon":1,"date_of_birth":"1938-13-40"}]}',
    "numbers-as-strings": '{"stations":[{"id":"s","name":"n","lat":"39.9","lon":"1e2"}],'
                          '"residents":[{"id":"r","name":"n","lat":1,"lon":1,"devices":[{"id":"d",'
                          '"secret":"0123456789abcdef","heartbeat_interval_s":"4294967295"}]}]}',
    "nan": '{"stations":[{"id":"s","name":"n","lat":"NaN","lon":"-Infinity"}]}',
    "camel-case": '{"residents":[{"id":"r","name":"n","lat":1,"lon":1,"dateOfBirth":"2000-01-01",'
                  '"keyHolders":[{"name":"\\u2028","phone":"<script>"}]}]}',
    "unknown-field": '{"stations":[],"extra":true}',
    "null-and-empty": '{"stations":null,"residents":[{}],"operators":[{"id":""}]}',
    "truncated": provision_body[:100],
}


def write(target, seeds):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    for old in d.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        (d / f"seed-{name}").write_bytes(data)


write("device_frames", device_frames)
write("console_request", console)
write("proto_json", proto_json)
write("http_request", http)
write("provision", provision)


# --- dictionaries -----------------------------------------------------------------------------
def proto_fields(*files):
    names = set()
    for f in files:
        text = (PROTOCOL / f).read_text()
        names.update(re.findall(r"^\s*(?:repeated\s+)?[\w.]+\s+(\w+)\s*=\s*\d+;", text, re.M))
    return [f'"{n}"' for n in sorted(names)]


def enum_values(*files):
    values = set()
    for f in files:
        values.update(re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=\s*\d+;", (PROTOCOL / f).read_text(), re.M))
    return [f'"{v}"' for v in sorted(values)]


def dict_entry(token):
    out = ""
    for b in token.encode():
        c = chr(b)
        if c in '\\"':
            out += "\\" + c
        elif 0x20 <= b < 0x7F:
            out += c
        else:
            out += f"\\x{b:02X}"
    return f'"{out}"'


def write_dict(target, about, tokens):
    lines = [f"# {target}_fuzz: {about}", "# Written by tests/fuzz/make_seeds.py (libFuzzer -dict= format)."]
    lines += [dict_entry(t) for t in dict.fromkeys(tokens)]
    (HERE / "dict" / f"{target}.dict").write_text("\n".join(lines) + "\n")


(HERE / "dict").mkdir(exist_ok=True)
json_syntax = ["{", "}", "[", "]", ":", ",", '"', "true", "false", "null", "\\u", "\\ud800",
               "\\udc00", "\\u2028", '"NaN"', '"Infinity"', '"-Infinity"', "1e308", "-0", "0.1",
               '"9223372036854775807"', '"-9223372036854775808"', '"18446744073709551615"',
               "4294967295", "\u0089", "\u2028", "\U0001F691", "\u00ad"]
write_dict("console_request", "ConsoleRequest / ConsoleEvent keys, outcomes, JSON syntax.",
           proto_fields("console.proto") + json_syntax
           + ["resolved_by_phone", "staff_visited", "ambulance_called", "family_contacted",
              "false_alarm", "technical", "available", "away"])
write_dict("provision", "admin.proto keys (ProvisionRequest and what it nests), JSON syntax.",
           proto_fields("admin.proto", "console.proto") + json_syntax
           + ['"supervisor"', '"operator"', '"1938-05-04"', '"0000-00-00"'])
write_dict("proto_json", "every field name and enum value of the three schemas, JSON syntax.",
           proto_fields("admin.proto", "console.proto", "device.proto")
           + enum_values("device.proto") + json_syntax)
write_dict("http_request", "HTTP/1.1 tokens, the dispatcher's paths and query keys.",
           ["GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", " HTTP/1.1\r\n", " HTTP/1.0\r\n",
            "\r\n", "\r\n\r\n", ": ", "Host: ", "Content-Length: ", "Transfer-Encoding: chunked",
            "Connection: close", "Connection: keep-alive", "Connection: Upgrade", "Upgrade: websocket",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
            "Authorization: Bearer ", "Content-Type: application/json", "Expect: 100-continue",
            "/healthz", "/metrics", "/console", "/api/", "/api/provision", "/api/reports",
            "/api/stations", "/api/overview", "/api/calls", "/api/calls/", "?", "&", "=", "from=",
            "to=", "format=csv", "format=json", "limit=", "q=", "%", "%E7%8E%8B", "+", "2026-01-01",
            "1795398029607", "0\r\n\r\n", ";ext=1"])
