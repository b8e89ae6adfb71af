"""A minimal gRPC client over TLS and HTTP/2 (the `h2` library), for requests the Temporal SDKs
will not send: a body naming one namespace under a header naming another, a foreign
`:authority`, gzip-compressed messages."""

import gzip
import socket
import ssl
import struct

import h2.config
import h2.connection
import h2.events


def call(host, port, sni, ca, cert, key, path, message: bytes, headers=(), authority=None, compress=False,
         timeout=20, framed: bytes = None, weak_chain_ok=False):
    """One unary call. Returns (http status, grpc-status, grpc-message, response message bytes).
    `framed`, when given, is sent as the whole request body instead of `message` in one frame;
    `weak_chain_ok` lets OpenSSL send a client chain it considers weak (SHA-1)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if weak_chain_ok:
        # OpenSSL would not even send a chain with a SHA-1 signature at its default level.
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    ctx.load_cert_chain(str(cert), str(key))
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((host, port), timeout=timeout)
    sock = ctx.wrap_socket(raw, server_hostname=sni)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    body = gzip.compress(message) if compress else message
    frame = struct.pack(">BI", 1 if compress else 0, len(body)) + body
    if framed is not None:
        frame = framed
    hdrs = [(":method", "POST"), (":scheme", "https"), (":path", path), (":authority", authority or sni),
            ("content-type", "application/grpc"), ("te", "trailers")]
    if compress:
        hdrs.append(("grpc-encoding", "gzip"))
    hdrs += list(headers)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, hdrs)
    sock.sendall(conn.data_to_send())
    status, grpc_status, grpc_message, data = None, None, None, b""
    done = False
    pending = frame
    while not done:
        # Send what flow control allows; the server may answer (and end the call) first.
        while pending:
            n = min(len(pending), conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
            if n <= 0:
                break
            conn.send_data(sid, pending[:n], end_stream=(n == len(pending)))
            pending = pending[n:]
            sock.sendall(conn.data_to_send())
        if not frame:
            conn.end_stream(sid)
            sock.sendall(conn.data_to_send())
        chunk = sock.recv(65536)
        if not chunk:
            break
        for ev in conn.receive_data(chunk):
            if isinstance(ev, h2.events.ResponseReceived):
                h = dict(ev.headers)
                status = int(h[":status"])
                grpc_status = h.get("grpc-status", grpc_status)
                grpc_message = h.get("grpc-message", grpc_message)
            elif isinstance(ev, h2.events.DataReceived):
                data += ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                h = dict(ev.headers)
                grpc_status = h.get("grpc-status", grpc_status)
                grpc_message = h.get("grpc-message", grpc_message)
            elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset, h2.events.ConnectionTerminated)):
                done = True
                pending = b""
        sock.sendall(conn.data_to_send())
    sock.close()
    message_out = data[5:] if len(data) >= 5 else b""
    return status, grpc_status, grpc_message, message_out
