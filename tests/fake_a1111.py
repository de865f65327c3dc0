"""A small image generator server for the tests, on 127.0.0.1 in a background thread.

It speaks just enough of two APIs: AUTOMATIC1111's ``POST /sdapi/v1/txt2img`` and the
OpenAI-compatible ``POST /v1/images/generations``. Instead of generating anything it
returns one fixed image, so a test can tell which training image must come back as
the nearest neighbour. ``mode`` makes it misbehave the ways real servers do.
"""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_NAME = "fake-sd-v1-5"
MODEL_HASH = "cafebabe"
MODES = ("ok", "slow", "trickle", "garbled", "bad_image", "hold", "error")


class FakeGenerator:
    """``with FakeGenerator(png) as server:`` serves at ``server.base_url``.

    Modes: ``ok`` responds at once. ``slow`` waits ``delay_s`` first. ``garbled`` sends
    a body that is not JSON. ``bad_image`` sends JSON whose image is not base64 of an
    image. ``trickle`` sends its response one chunk every 0.1 s over ``delay_s``.
    ``hold`` sets ``received`` and waits for ``release``. ``error`` returns HTTP 500. With ``api_key`` set, the OpenAI route wants ``Authorization: Bearer``
    with that key and otherwise returns 401 with the received header in the body, as a
    careless server might.
    """

    def __init__(self, image_png: bytes, mode: str = "ok", delay_s: float = 0.0, api_key=None):
        assert mode in MODES, mode
        self.image_b64 = base64.b64encode(image_png).decode("ascii")
        self.mode = mode
        self.delay_s = delay_s
        self.api_key = api_key
        self.requests = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.stopping = threading.Event()
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeGenerator":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait(self) -> None:
        """Delay the current request as the mode requires, returning early on stop."""
        if self.mode == "slow":
            self.stopping.wait(self.delay_s)
        elif self.mode == "hold":
            self.received.set()
            self.release.wait(30)

    def a1111_answer(self, payload: dict) -> dict:
        seed = payload.get("seed", -1)
        info = {"sd_model_name": MODEL_NAME, "sd_model_hash": MODEL_HASH,
                "seed": seed if seed != -1 else 1234}
        return {"images": [self.image_b64], "parameters": payload, "info": json.dumps(info)}

    def openai_answer(self, payload: dict) -> dict:
        return {"created": 0, "data": [{"b64_json": self.image_b64, "revised_prompt": payload.get("prompt")}]}


def _handler_class(fake: FakeGenerator):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            payload = json.loads(body or b"{}")
            fake.requests.append({"path": self.path, "headers": dict(self.headers), "json": payload})
            fake.wait()
            if self.path == "/sdapi/v1/txt2img":
                self.answer(fake.a1111_answer(payload))
            elif self.path == "/v1/images/generations":
                self.answer_openai(payload)
            else:
                self.send_json(404, {"detail": "Not Found"})

        def answer_openai(self, payload):
            authorization = self.headers.get("Authorization", "")
            if fake.api_key and authorization != f"Bearer {fake.api_key}":
                self.send_json(401, {"error": f"bad credentials: {authorization}"})
            else:
                self.answer(fake.openai_answer(payload))

        def answer(self, answer: dict):
            if fake.mode == "garbled":
                self.send_raw(200, b"<html>Internal hiccup\x00\xff", "text/html")
            elif fake.mode == "bad_image":
                key = "images" if "images" in answer else "data"
                broken = ["bm90IGFuIGltYWdl"] if key == "images" else [{"b64_json": "bm90IGFuIGltYWdl"}]
                self.send_json(200, {**answer, key: broken})
            elif fake.mode == "error":
                self.send_json(500, {"error": "CUDA out of memory"})
            elif fake.mode == "trickle":
                self.send_trickle(json.dumps(answer).encode("utf-8"))
            else:
                self.send_json(200, answer)

        def send_trickle(self, body: bytes):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            chunks = max(1, int(fake.delay_s / 0.1))
            size = -(-len(body) // chunks)
            try:
                for start in range(0, len(body), size):
                    if fake.stopping.wait(0.1):
                        return
                    self.wfile.write(body[start:start + size])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out first, which is what this mode tests

        def send_json(self, status: int, value: dict):
            self.send_raw(status, json.dumps(value).encode("utf-8"), "application/json")

        def send_raw(self, status: int, body: bytes, content_type: str):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out first, which is what the slow mode tests

    return Handler
