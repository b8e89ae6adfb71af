"""A tiny h2c gRPC upstream that records each request's headers and answers every call with an
empty message and grpc-status 0 — to see what the gateway sends upstream. `delays` maps a
method path to seconds to wait before answering it (a long poll)."""

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
        self.delays = {}
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
        lock = threading.Lock()
        paths = {}

        def answer(stream_id):
            with lock:
                try:
                    conn.send_headers(stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                    conn.send_data(stream_id, b"\0\0\0\0\0")
                    conn.send_headers(stream_id, [("grpc-status", "0")], end_stream=True)
                    sock.sendall(conn.data_to_send())
                except Exception:  # the stream or connection went away meanwhile
                    pass

        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            with lock:
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        headers = dict(ev.headers)
                        self.requests.append(headers)
                        paths[ev.stream_id] = headers.get(":path")
                    elif isinstance(ev, h2.events.DataReceived):
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        delay = self.delays.get(paths.pop(ev.stream_id, None))
                        if delay:
                            threading.Timer(delay, answer, args=(ev.stream_id,)).start()
                        else:
                            conn.send_headers(ev.stream_id, [(":status", "200"), ("content-type", "application/grpc")])
                            conn.send_data(ev.stream_id, b"\0\0\0\0\0")
                            conn.send_headers(ev.stream_id, [("grpc-status", "0")], end_stream=True)
                sock.sendall(conn.data_to_send())

    def close(self):
        self.sock.close()
