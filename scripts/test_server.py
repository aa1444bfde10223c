"""A gpt-server process for the Python tests: a small random model (made by
gpt-random-model) and the test tokenizer, on a free loopback port."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "Tests", "GPTTests", "Fixtures", "tokenizer", "gpt2ish.json")


class TestServer:
    """Use as a context manager; `checkpoint` is the model file, `port` the port."""

    def __init__(self, build, context=128, seed=7, settings=(), name="test-model"):
        """`settings`: `--set KEY=VALUE` overrides for the server; `name`: the model id (file name)."""
        self.build = build
        self.settings = [argument for setting in settings for argument in ("--set", setting)]
        self.folder = tempfile.mkdtemp()
        self.checkpoint = os.path.join(self.folder, name + ".bin")
        subprocess.run([os.path.join(build, "gpt-random-model"), "--out", self.checkpoint, "--context", str(context),
                        "--vocab", "2100", "--layers", "2", "--heads", "2", "--channels", "64", "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)

    def __enter__(self):
        self.process = subprocess.Popen(
            [os.path.join(self.build, "gpt-server"), "--port", "0", "--ckpt", self.checkpoint, "--tokenizer", TOKENIZER]
            + self.settings, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(re.search(r"127\.0\.0\.1:(\d+)", self.process.stdout.readline()).group(1))
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.folder)

    def post(self, path, body, accept="application/json"):
        """(status, response text)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Accept": accept})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class Checks:
    """Counts passed and failed checks; prints each failure."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def __call__(self, what, condition, detail=""):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {what}: {detail}")

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        raise SystemExit(1 if self.failed else 0)
