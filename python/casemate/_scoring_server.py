"""The scoring process of a casemate web service.

casemate starts this module (``python -m casemate._scoring_server``) with a clean environment and
proxies every scoring request to it over a unix socket that only the server's user can reach.
It never sees credentials: casemate has checked the key or token before a request arrives.

Two kinds of model:
- ``mlflow``: an MLflow pyfunc model in ``CASEMATE_MODEL_DIR``, scored with MLflow's own request
  parser, so bodies are exactly those ``mlflow models serve`` takes (``dataframe_split``,
  ``dataframe_records``, ``instances``, ``inputs``) and answers are ``{"predictions": ...}``;
- ``entry_script``: a ``score.py`` with ``init()`` and ``run(raw_data)``, the seed's shape.

Answers carry ``X-Casemate-Model-Time-Us``, the microseconds the model took, so casemate can
split each request's duration into model time and its own overhead. A model that raises answers
500 with ``X-Casemate-Model-Error``; its traceback goes to stderr (the service's console log),
never into the answer.
"""

import http.server
import importlib.util
import json
import os
import socketserver
import sys
import threading
import time
import traceback

EXIT_CANNOT_START = 3


def _fail(reason):
    print(f"casemate-scoring: {reason}", file=sys.stderr, flush=True)
    sys.exit(EXIT_CANNOT_START)


def _import_or_fail(module, why):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as error:
        _fail(
            f"cannot import {module} ({error}) with {sys.executable}: {why}; deploy with "
            "--python naming an interpreter whose environment has it"
        )


class _BadInput(Exception):
    """The request, not the model, is at fault: answered 400 with this message."""


def _load_mlflow(model_dir):
    _import_or_fail("mlflow.pyfunc", "an MLflow model is scored with mlflow")
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    try:
        model = mlflow.pyfunc.load_model(model_dir)
    except ImportError as error:
        _fail(f"the model needs a module this Python cannot import: {error} ({sys.executable})")
    except Exception as error:  # noqa: BLE001 - any load failure ends the process with its reason
        _fail(f"cannot load the MLflow model: {type(error).__name__}: {error}")
    schema = model.metadata.get_input_schema()

    def score(body, content_type):
        try:
            answer = scoring_server.invocations(
                body, content_type or "application/json", model, schema
            )
        except MlflowException as error:
            if getattr(error, "stack_trace", None):
                print(error.stack_trace, file=sys.stderr, flush=True)
                raise
            raise _BadInput(error.message) from None
        return answer.status, answer.mimetype, answer.response.encode("utf-8")

    return score


def _load_entry_script(model_dir, script):
    spec = importlib.util.spec_from_file_location("score", script)
    if spec is None or spec.loader is None:
        _fail(f"the entry script {script} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules["score"] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        _fail(f"the entry script needs a module this Python cannot import: {error} ({sys.executable})")
    except Exception as error:  # noqa: BLE001
        traceback.print_exc()
        _fail(f"the entry script failed to load: {type(error).__name__}: {error}")
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            _fail(f"the entry script has no {name}() function")
    try:
        module.init()
    except Exception as error:  # noqa: BLE001
        traceback.print_exc()
        _fail(f"init() of the entry script raised {type(error).__name__}: {error}")

    def score(body, _content_type):
        try:
            raw_data = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _BadInput("the request body is not UTF-8") from None
        result = module.run(raw_data)
        if isinstance(result, (bytes, bytearray)):
            return 200, "application/octet-stream", bytes(result)
        if isinstance(result, str):
            return 200, "application/json", json.dumps(result).encode("utf-8")
        return 200, "application/json", json.dumps(result, default=_jsonable).encode("utf-8")

    return score


def _jsonable(value):
    for method in ("tolist", "to_dict"):
        if hasattr(value, method):
            return getattr(value, method)()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    request_queue_size = 128


def _handler(score):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):
            pass

        def _answer(self, status, content_type, body, headers=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path in ("/ping", "/health"):
                self._answer(200, "application/json", b"{}")
            else:
                self._answer(404, "application/json", b'{"message": "not found"}')

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            started = time.perf_counter()
            try:
                status, content_type, answer = score(body, self.headers.get("Content-Type"))
                headers = []
            except _BadInput as error:
                status, content_type = 400, "application/json"
                answer = json.dumps({"message": str(error)}).encode("utf-8")
                headers = []
            except Exception:  # noqa: BLE001 - the model's own failure, reported as such
                traceback.print_exc()
                sys.stderr.flush()
                status, content_type, answer = 500, "application/json", b"{}"
                headers = [("X-Casemate-Model-Error", "1")]
            elapsed_us = int((time.perf_counter() - started) * 1_000_000)
            headers.append(("X-Casemate-Model-Time-Us", str(elapsed_us)))
            self._answer(status, content_type, answer, headers)

    return Handler


def _exit_with_parent():
    """Ends this process when casemate, its parent, is gone (killed, say): a scoring process
    must never outlive the server that guards it."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def main():
    _exit_with_parent()
    kind = os.environ.get("CASEMATE_MODEL_KIND", "")
    model_dir = os.environ.get("CASEMATE_MODEL_DIR", "")
    socket_path = os.environ.get("CASEMATE_SCORING_SOCKET", "")
    if not socket_path:
        _fail("CASEMATE_SCORING_SOCKET is not set")
    if kind == "mlflow":
        score = _load_mlflow(model_dir)
    elif kind == "entry_script":
        score = _load_entry_script(model_dir, os.environ.get("CASEMATE_ENTRY_SCRIPT", ""))
    else:
        _fail(f"unknown model kind {kind!r}")
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    old_mask = os.umask(0o077)
    try:
        server = _Server(socket_path, _handler(score))
    finally:
        os.umask(old_mask)
    print(f"casemate-scoring: ready on {socket_path}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
