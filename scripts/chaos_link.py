"""A station's network link to the broker, which scripts/chaos.py can cut.

Each station's agent connects to its own loopback relay instead of the broker,
so one station's link can fail while the others keep theirs. Two kinds of cut:

- ``reset``: the modem drops the connection. Both ends see the TCP connection
  close at once and new connections are refused (accepted and reset) until
  the link comes back.
- ``blackhole``: the cellular link goes silent. Nothing passes in either
  direction and nobody is told: connections stay open, new ones complete the
  TCP handshake (the kernel answers) but get no reply. Bytes already sent are
  held and delivered when the link returns, as TCP retransmission would; MQTT
  keep-alive is what notices the outage, on both sides.
"""
import socket
import struct
import threading


def _hard_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class StationLink:
    """Loopback TCP relay from one station to the broker port."""

    def __init__(self, name, upstream_port):
        self.name = name
        self.upstream_port = upstream_port
        self.state = "up"
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._conns = set()          # live sockets (both ends of every relayed connection)
        self._cuts = 0
        self._generation = 0         # bumped by every reset: older relays stop forwarding
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.connections = 0         # accepted and relayed, for the report
        self.refused = 0
        self._closed = False
        threading.Thread(target=self._accept_loop, name=f"link-{name}", daemon=True).start()

    # ------------------------------------------------------------- control
    def cut(self, mode):
        """Starts an outage; overlapping outages nest (the link returns with the last)."""
        with self._lock:
            self._cuts += 1
            self.state = mode
            if mode == "blackhole":
                self._flowing.clear()
                return
            self._generation += 1
            conns, self._conns = self._conns, set()
        for s in conns:
            _hard_close(s)

    def restore(self):
        with self._lock:
            self._cuts -= 1
            if self._cuts > 0:
                return
            self.state = "up"
            self._flowing.set()

    def close(self):
        self._closed = True
        self.cut("reset")
        self._flowing.set()
        try:
            self._listener.close()
        except OSError:
            pass

    # ------------------------------------------------------------- relay
    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.state == "reset":
                self.refused += 1
                _hard_close(client)
                continue
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client):
        self._flowing.wait()             # a blackholed link answers nothing
        with self._lock:
            generation = self._generation
            if self.state == "reset":
                self.refused += 1
                _hard_close(client)
                return
        try:
            server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            server.settimeout(None)
        except OSError:                  # broker down: the station sees a refused connection
            _hard_close(client)
            return
        with self._lock:
            if generation != self._generation:
                _hard_close(client)
                _hard_close(server)
                return
            self._conns.update((client, server))
            self.connections += 1
        for src, dst in ((client, server), (server, client)):
            threading.Thread(target=self._pump, args=(src, dst, generation), daemon=True).start()

    def _pump(self, src, dst, generation):
        try:
            while True:
                data = src.recv(65536)
                self._flowing.wait()     # held while blackholed (EOF too)
                if generation != self._generation or not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        with self._lock:
            mine = generation == self._generation
            self._conns.discard(src)
            self._conns.discard(dst)
        if mine:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
