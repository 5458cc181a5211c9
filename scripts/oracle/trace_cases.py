#!/usr/bin/env python3
"""Trace what each case of the original suite does, in a canonical JSON form.

Runs inside the oracle's venv (../shared/oracle, /tmp/oracle-venv): every case class is
instantiated against a recording stand-in for the fuzzing protocol; its onOpen() is called,
delayed callbacks are run at once (nested in the trace), and the calls, expectations and
flags are printed as JSON. `wstest-casedump` prints our cases in the same form; diffing the
two checks every case definition against the original.

usage: /tmp/oracle-venv/bin/python scripts/oracle/trace_cases.py [ID-PREFIX...] > original.json
"""
import binascii
import json
import sys

from autobahn.websocket.protocol import WebSocketProtocol
from autobahntestsuite.case import Cases
from autobahntestsuite.caseset import CaseSet
from autobahntestsuite.case import CaseCategories, CaseSubCategories, CaseSetname, CaseBasename


def hx(b):
    if b is None:
        return None
    if isinstance(b, str):
        b = b.encode("utf8")
    return binascii.b2a_hex(b).decode("ascii")


class Recorder:
    CLOSE_STATUS_CODE_NORMAL = 1000
    CLOSE_STATUS_CODE_GOING_AWAY = 1001
    CLOSE_STATUS_CODE_PROTOCOL_ERROR = 1002
    CLOSE_STATUS_CODE_UNSUPPORTED_DATA = 1003
    CLOSE_STATUS_CODE_INVALID_PAYLOAD = 1007
    CLOSE_STATUS_CODE_POLICY_VIOLATION = 1008
    CLOSE_STATUS_CODE_MESSAGE_TOO_BIG = 1009

    def __init__(self, is_server):
        self.calls = []
        self.state = WebSocketProtocol.STATE_OPEN
        self.createWirelog = True
        self.autoFragmentSize = 0
        self.case = None
        self.factory = type("F", (), {"isServer": is_server})()
        self.txFrameStats = {}
        self.localCloseReason = None

    def sendFrame(self, opcode, payload=b"", fin=True, rsv=0, mask=None, payload_len=None, chopsize=None, sync=False):
        self.calls.append(["frame", {"opcode": opcode, "payload": hx(payload), "fin": bool(fin), "rsv": rsv,
                                     "mask": hx(mask), "repeat": payload_len, "chop": chopsize, "sync": bool(sync)}])

    def sendMessage(self, payload, isBinary=False, fragmentSize=None, sync=False, doNotCompress=False):
        self.calls.append(["message", {"payload": hx(payload), "binary": bool(isBinary), "fragment": fragmentSize}])

    def sendClose(self, code=None, reason=None):
        self.calls.append(["close", {"code": code, "reason": reason}])

    def sendCloseFrame(self, code=None, reasonUtf8=None, isReply=False):
        self.calls.append(["close_frame", {"code": code, "reason": hx(reasonUtf8)}])

    def killAfter(self, delay):
        self.calls.append(["kill_after", float(delay)])

    def closeAfter(self, delay):
        self.calls.append(["close_after", float(delay)])

    def enableWirelog(self, on):
        self.calls.append(["wirelog", {"on": bool(on), "mark": True}])

    def beginMessage(self, isBinary=False, doNotCompress=False):
        self.calls.append(["begin_message", {"binary": bool(isBinary)}])

    def beginMessageFrame(self, length):
        self.calls.append(["begin_frame", {"len": length}])

    def sendMessageFrameData(self, payload, sync=False):
        self.calls.append(["frame_data", {"data": hx(payload), "sync": bool(sync)}])

    def endMessage(self):
        self.calls.append(["end_message"])

    def continueLater(self, delay, fun, tag=None):
        outer = self.calls
        self.calls = []
        received_before = len(self.case.received)
        fun()
        guard = len(self.case.received) > received_before
        nested = self.calls
        self.calls = outer
        self.calls.append(["later", {"delay": float(delay), "tag": tag, "guard": guard, "steps": nested}])


def ev(e):
    if e[0] == "message":
        return ["message", hx(e[1]), bool(e[2])]
    if e[0] == "pong":
        return ["pong", hx(e[1])]
    if e[0] == "timeout":
        return ["timeout", e[1]]
    return list(e)


# Offers (as header values) that each compression case's server-side accept rule is tried
# on; the Rust side (`fuzzing::trace`) uses the same list.
SAMPLE_OFFERS = [
    "permessage-deflate",
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=12, permessage-deflate; client_max_window_bits",
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=9",
    "x-foo, permessage-deflate; client_max_window_bits; server_max_window_bits=11",
]


def trace_compression(klass, cs):
    from autobahn.websocket.compress import PerMessageDeflateOffer
    p = Recorder(is_server=False)
    c = klass(p)
    accepted = []
    for header in SAMPLE_OFFERS:
        offers = [PerMessageDeflateOffer.parse(params)
                  for ext, params in WebSocketProtocol._parseExtensionsHeader(None, header)
                  if ext == "permessage-deflate"]
        a = klass.SERVER_ACCEPT(c, offers)
        accepted.append(a.getExtensionString() if a is not None else None)
    ec = dict(c.expectedClose)
    return {
        "id": cs.caseClasstoId(klass),
        "close": {"closedByMe": ec.get("closedByMe"), "closeCode": ec.get("closeCode"),
                  "requireClean": ec.get("requireClean"),
                  "wrongEndpointFatal": bool(ec.get("closedByWrongEndpointIsFatal", False))},
        "reportTime": bool(c.reportTime),
        "reportCompressionRatio": bool(c.reportCompressionRatio),
        "compression": {
            "len": klass.LEN, "count": klass.COUNT, "wait": float(klass.WAITSECS),
            "fragment": klass.AUTOFRAGSIZE, "binary": bool(klass.TESTDATA["binary"]),
            "offers": ", ".join(o.getExtensionString() for o in klass.CLIENT_OFFERS),
            "accepted": accepted,
        },
    }


def trace(klass, cs):
    if hasattr(klass, "TESTDATA"):
        return trace_compression(klass, cs)
    p = Recorder(is_server=False)
    c = klass(p)
    p.case = c
    wl_before = p.createWirelog
    c.onOpen()
    # createWirelog set directly (not via enableWirelog) shows as an unmarked switch
    steps = p.calls
    if p.createWirelog != wl_before:
        steps = [["wirelog", {"on": p.createWirelog, "mark": False}]] + steps
    if p.autoFragmentSize:
        steps = [["auto_fragment", p.autoFragmentSize]] + steps
    ec = dict(c.expectedClose)
    return {
        "id": cs.caseClasstoId(klass),
        "expected": [[k, [ev(e) for e in v]] for k, v in c.expected.items()],
        "close": {"closedByMe": ec.get("closedByMe"), "closeCode": ec.get("closeCode"),
                  "requireClean": ec.get("requireClean"),
                  "wrongEndpointFatal": bool(ec.get("closedByWrongEndpointIsFatal", False))},
        "suppressClose": bool(c.suppressClose),
        "reportTime": bool(c.reportTime),
        "steps": steps,
    }


def main():
    prefixes = sys.argv[1:]
    cs = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)
    out = []
    for k in Cases:
        cid = cs.caseClasstoId(k)
        if prefixes and not any(cid == p or cid.startswith(p.rstrip("*")) for p in prefixes):
            continue
        out.append(trace(k, cs))
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
