"""A tiny h2c gRPC upstream that records each request's headers and answers every call with an
empty message and grpc-status 0 — to see what the gateway sends upstream."""

import socket
import threading

import h2.config
import h2.connection
import h2.events


class CaptureUpstream:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, sock):
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    self.requests.append(dict(ev.headers))
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    conn.send_headers(ev.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                    conn.send_data(ev.stream_id, b"\0\0\0\0\0")
                    conn.send_headers(ev.stream_id, [("grpc-status", "0")], end_stream=True)
            sock.sendall(conn.data_to_send())

    def close(self):
        self.sock.close()
