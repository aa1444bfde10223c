#!/usr/bin/env python3
"""End-to-end test of the browser page (GET /) in a real headless Chromium.

Starts gpt-server on a free port (with a small random model unless --ckpt is
given), opens http://127.0.0.1:PORT/ and checks two scenarios:

  stream  the page asks for the server's API key (a random one, unless
          --no-api-key), then shows the model, streams 40 tokens visibly (the text grows
          in several steps before the finish reason "length" appears),
          counts 40 tokens, and colours each token by its probability, with
          its alternatives in its tooltip;
  stop    a 1000-token generation is stopped with the Stop button: the page
          says "stopped", the text stops growing and the server's /health
          reports no active generation within a few seconds;
  score   Score paints the prompt: one coloured token per token the
          `tokenizers` library makes of it, but the first, which nothing predicts.

Needs Debian's `chromium` and `chromium-driver` and Python's `selenium`:
    apt-get install -y chromium chromium-driver && pip install selenium

    python3 scripts/web_test.py --build .build/release

Screenshots go to /tmp/web_test.png (finished stream) and
/tmp/web_test_stopped.png. The last line is `web: N passed, M failed`
(scenarios); the exit status is 1 when anything failed.

--proxy-page serves the page (Sources/InferenceServer/Resources/index.html)
from a small same-origin proxy in front of the server, for servers without the
GET / route.
"""

import argparse
import http.client
import http.server
import json
import os
import queue
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_TOKENIZER = os.path.join(ROOT, "Tests", "GPTTests", "Fixtures", "tokenizer", "gpt2ish.json")
WEB_PAGE_HTML = os.path.join(ROOT, "Sources", "InferenceServer", "Resources", "index.html")
PROMPT = "Once upon a time, in a test:"


class Checks:
    """Counts checks, grouped in scenarios; a scenario passes when all its checks do."""

    def __init__(self):
        self.scenarios = []  # (name, passed)
        self.current = None
        self.failures = 0

    def begin(self, name):
        self.current = name
        self.failures = 0
        print(f"-- {name}", flush=True)

    def check(self, ok, what, detail=""):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f" ({detail})" if detail else ""), flush=True)
        if not ok:
            self.failures += 1
        return ok

    def end(self, crashed=None):
        if crashed is not None:
            self.check(False, "scenario ran to the end", crashed)
        self.scenarios.append((self.current, self.failures == 0))
        self.current = None

    def summary(self):
        passed = sum(1 for _, ok in self.scenarios if ok)
        return passed, len(self.scenarios) - passed


def start_server(build, ckpt, tokenizer, log_path, api_key=""):
    """Starts gpt-server on a free port; returns (process, base URL).

    It runs in the log's folder with no GPT_SERVER_* variables but the API key,
    so neither config/server.json nor the caller's environment changes it.
    """
    log = open(log_path, "wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPT_SERVER_")}
    if api_key:
        env["GPT_SERVER_API_KEY"] = api_key
    process = subprocess.Popen(
        [os.path.join(build, "gpt-server"), "--port", "0", "--ckpt", os.path.abspath(ckpt),
         "--tokenizer", os.path.abspath(tokenizer)],
        stdout=subprocess.PIPE, stderr=log, cwd=os.path.dirname(log_path), env=env)
    lines = queue.Queue()

    def read():
        for raw in process.stdout:
            lines.put(raw.decode(errors="replace"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        match = re.search(r"listening on (http://[\w.\-\[\]:]+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise RuntimeError(f"gpt-server did not report its address; see {log_path}")


def get_json(url, api_key=""):
    headers = {"Authorization": "Bearer " + api_key} if api_key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
        return json.loads(response.read())


def page_file():
    """The page as the server embeds it: Sources/InferenceServer/Resources/index.html."""
    return open(WEB_PAGE_HTML, "rb").read()


def start_proxy(upstream):
    """A same-origin stand-in for GET /: serves the page, forwards everything else (streaming)."""
    page = page_file()
    host, port = upstream.split("://", 1)[1].rsplit(":", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path == "/" or self.path.startswith("/?"):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            else:
                self.forward()

        def do_POST(self):
            self.forward()

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("content-type", "accept", "authorization")}
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                self.send_response(response.status)
                for k, v in response.getheaders():
                    if k.lower() in ("content-type", "retry-after", "cache-control", "allow"):
                        self.send_header(k, v)
                self.send_header("Connection", "close")
                self.end_headers()
                while True:  # HTTP/1.0 style: the body ends when the connection closes
                    chunk = response.read1(65536)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser left: closing upstream makes the server cancel
            finally:
                connection.close()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def make_driver(args):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1150",
                 "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=options)


# One round trip for everything the checks look at.
STATE_JS = """
const $ = (id) => document.getElementById(id);
return {
  gen: $("gen").textContent, prompt: $("prompt-out").textContent,
  status: $("status").textContent, state: $("status").dataset.state,
  count: $("count").textContent, rate: $("rate").textContent,
  finish: $("summary").hidden ? "" : $("finish").textContent,
  seed: $("seed-out").textContent, timings: $("timings").textContent,
  error: $("error").hidden ? "" : $("error").textContent,
  generate: !$("generate").disabled, stop: !$("stop").disabled,
  tokens: Array.from(document.querySelectorAll("#gen .tok")).map((t) => [t.textContent, t.dataset.p, t.title]),
  scored: Array.from(document.querySelectorAll("#prompt-out .tok")).map((t) => [t.textContent, t.dataset.p, t.title]),
};
"""


def state(driver):
    return driver.execute_script(STATE_JS)


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def set_field(driver, element_id, value):
    element = driver.find_element("id", element_id)
    element.clear()
    element.send_keys(str(value))


def js_errors(driver):
    try:
        entries = driver.get_log("browser")
    except Exception:
        return []
    # Chrome also logs failed HTTP statuses (the expected 401) as SEVERE: those are not script errors.
    return [e["message"] for e in entries
            if e.get("level") == "SEVERE" and "Failed to load resource" not in e["message"]]


def scenario_stream(driver, base, checks, model, api_key):
    checks.begin("stream: " + ("the key is asked for, then " if api_key else "") + "40 tokens appear one by one")
    driver.get(base + "/")
    if api_key:
        asked = wait_for(lambda: driver.find_element("id", "keymsg").is_displayed(), 10)
        message = driver.find_element("id", "keymsg").text
        checks.check(asked and "this server needs an api key" in message.lower()
                     and driver.find_element("id", "apikey").is_displayed(),
                     "a 401 makes the page ask for the API key", message)
        checks.check(not state(driver)["generate"], "Generate disabled until the key is given")
        driver.find_element("id", "apikey").send_keys(api_key)
        driver.find_element("id", "savekey").click()
    ready = wait_for(lambda: driver.execute_script(
        'return document.getElementById("model").dataset.state === "ready"'), 15)
    model_text = driver.find_element("id", "model").text
    checks.check(ready and f"context {model['context_length']}" in model_text,
                 "the model's shape is shown", model_text)
    if api_key:
        stored = driver.execute_script("return Object.values(localStorage)")
        checks.check(stored == [api_key], "the key is kept in localStorage")
    checks.check(driver.find_element("id", "max_seq_len").get_attribute("max") == str(model["context_length"]),
                 "max_seq_len is capped at the context length")
    checks.check(driver.find_element("id", "prompt").get_attribute("value") == "To be, or not to be:",
                 "the default prompt is filled in")
    initial = state(driver)
    checks.check(initial["generate"] and not initial["stop"], "Generate enabled, Stop disabled before a run")

    set_field(driver, "prompt", PROMPT)
    set_field(driver, "num_tokens", 40)
    set_field(driver, "delay_ms", 50)
    driver.find_element("id", "generate").click()

    samples, growth, previous, running_seen = 0, 0, 0, False
    deadline = time.monotonic() + 30
    current = state(driver)
    while time.monotonic() < deadline:
        started = time.monotonic()
        current = state(driver)
        samples += 1
        if current["finish"]:
            break
        if current["stop"] and not current["generate"]:
            running_seen = True
        if len(current["gen"]) > previous:
            growth += 1
            previous = len(current["gen"])
        time.sleep(max(0.0, 0.03 - (time.monotonic() - started)))
    checks.check(running_seen, "Stop enabled and Generate disabled while running")
    checks.check(growth >= 3, "the text grew in at least 3 steps before the finish reason appeared",
                 f"{growth} steps in {samples} samples")
    checks.check(current["finish"] == "length", 'the finish reason "length" is shown', repr(current["finish"]))
    checks.check(current["count"] == "40", "the token count is 40", current["count"])
    checks.check(current["prompt"] == PROMPT and len(current["gen"]) > 0,
                 "the prompt comes first, then the generated text", f"{len(current['gen'])} generated characters")
    checks.check(current["seed"].isdigit() and "first token" in current["timings"] and current["rate"] != "–",
                 "the seed, the server's timings and tokens/s are shown",
                 f"seed {current['seed']}, {current['rate']} tokens/s")
    # The finish line comes with the last message; the buttons change when the stream has ended, a moment later.
    settle = time.monotonic() + 10
    while not (current["generate"] and not current["stop"]) and time.monotonic() < settle:
        time.sleep(0.05)
        current = state(driver)
    checks.check(current["generate"] and not current["stop"] and not current["error"],
                 "Generate enabled again, Stop disabled, no error")
    tokens = current["tokens"]
    # Leftover bytes of a character the generation ended inside come last, as
    # U+FFFD in plain text (no token, so no colour): the page's seed is random.
    joined = "".join(t[0] for t in tokens)
    leftover = current["gen"][len(joined):] if current["gen"].startswith(joined) else None
    checks.check(len(tokens) >= 30 and leftover is not None and set(leftover) <= {"\ufffd"},
                 "the generated text is made of coloured tokens (and any leftover U+FFFD)",
                 f"{len(tokens)} token spans, leftover {leftover!r}")
    checks.check(all(0 < float(t[1]) <= 1 and t[2].startswith("p = ") and t[2].count("\n") == 5 for t in tokens),
                 "each token has its probability and 5 alternatives in its tooltip", repr(tokens[:2]))
    driver.save_screenshot("/tmp/web_test.png")
    errors = js_errors(driver)
    checks.check(not errors, "no JavaScript errors in the console", "; ".join(errors)[:300])


def scenario_stop(driver, base, server, checks):
    from selenium.webdriver.common.keys import Keys

    checks.begin("stop: Stop cancels a long generation")
    set_field(driver, "num_tokens", 1000)
    set_field(driver, "delay_ms", 50)
    # Start with Ctrl+Enter from the prompt box (the keyboard path).
    driver.find_element("id", "prompt").send_keys(Keys.CONTROL, Keys.ENTER)
    started = wait_for(lambda: int(state(driver)["count"] or 0) >= 5, 20)
    checks.check(started, "tokens arrive after Ctrl+Enter", f"{state(driver)['count']} tokens")
    active = get_json(server + "/health")["active"]
    checks.check(active == 1, "the server has the generation active", f"active {active}")

    driver.find_element("id", "stop").click()
    stopped = wait_for(lambda: state(driver)["status"] == "stopped", 3)
    after = state(driver)
    checks.check(stopped, 'the page shows "stopped"', after["status"])
    checks.check(after["generate"] and not after["stop"], "Generate enabled again, Stop disabled")
    checks.check(not after["finish"] and not after["error"], "no finish summary and no error after stopping",
                 after["error"][:200])
    length = len(after["gen"])
    time.sleep(1.0)
    later = state(driver)
    checks.check(len(later["gen"]) == length and later["count"] == after["count"],
                 "the text stops growing", f"{length} -> {len(later['gen'])} characters, {later['count']} tokens")
    idle = wait_for(lambda: get_json(server + "/health")["active"] == 0, 5, interval=0.1)
    checks.check(idle, "the server's /health reports active 0 within 5 s (cancelled)",
                 json.dumps(get_json(server + "/health")))
    driver.save_screenshot("/tmp/web_test_stopped.png")
    errors = js_errors(driver)
    checks.check(not errors, "no JavaScript errors in the console", "; ".join(errors)[:300])


def scenario_score(driver, tokenizer_path, checks):
    import tokenizers

    checks.begin("score: the prompt painted by how surprising each token was")
    text = "To be, or not to be, that is the question."
    set_field(driver, "prompt", text)
    driver.find_element("id", "score").click()
    done = wait_for(lambda: state(driver)["status"].startswith("scored"), 20)
    current = state(driver)
    checks.check(done and "perplexity" in current["status"], "the page says it scored the text, with a perplexity",
                 current["status"])
    expected = len(tokenizers.Tokenizer.from_file(tokenizer_path).encode(text).ids)
    checks.check(current["prompt"] == text, "the painted prompt is the text", repr(current["prompt"]))
    checks.check(len(current["scored"]) == expected - 1, "every token but the first is painted",
                 f"{len(current['scored'])} spans for {expected} tokens")
    checks.check(all(0 < float(t[1]) <= 1 and t[2].startswith("p = ") for t in current["scored"]),
                 "each painted token has its probability and alternatives", repr(current["scored"][:2]))
    driver.save_screenshot("/tmp/web_test_score.png")
    errors = js_errors(driver)
    checks.check(not errors, "no JavaScript errors in the console", "; ".join(errors)[:300])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=".build/debug", help="folder with gpt-server and gpt-random-model")
    parser.add_argument("--ckpt", help="checkpoint (default: a random model made in a temp folder)")
    parser.add_argument("--tokenizer", default=FIXTURE_TOKENIZER)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    parser.add_argument("--no-api-key", action="store_true",
                        help="run the server without an API key (by default it gets a random one the page must ask for)")
    parser.add_argument("--proxy-page", action="store_true",
                        help="serve the page from Resources/index.html through a same-origin proxy (server without GET /)")
    args = parser.parse_args()
    build = os.path.abspath(os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build)

    checks = Checks()
    temp = tempfile.mkdtemp(prefix="web_test.")
    server_process = proxy = driver = None
    try:
        ckpt = args.ckpt
        if not ckpt:
            ckpt = os.path.join(temp, "model.bin")
            subprocess.run([os.path.join(build, "gpt-random-model"), "--out", ckpt, "--context", "256",
                            "--vocab", "2100", "--layers", "4", "--heads", "4", "--channels", "128"],
                           check=True, stdout=subprocess.DEVNULL)
        log_path = os.path.join(temp, "server.log")
        api_key = "" if args.no_api_key else "web-test-" + os.urandom(6).hex()
        server_process, server = start_server(build, ckpt, args.tokenizer, log_path, api_key)
        model = get_json(server + "/model", api_key)
        base = server
        if args.proxy_page:
            proxy, base = start_proxy(server)
            print(f"page served by a proxy at {base} in front of {server}", flush=True)
        else:
            try:
                with urllib.request.urlopen(server + "/", timeout=5) as response:
                    kind = response.headers.get("Content-Type", "")
                    if not kind.startswith("text/html"):
                        raise RuntimeError(f"GET / answered Content-Type {kind!r}, not text/html")
            except urllib.error.HTTPError as error:
                raise RuntimeError(f"GET / answered {error.code}; add the route, or run with --proxy-page")
            print(f"server at {server}", flush=True)
        driver = make_driver(args)

        for scenario in (lambda: scenario_stream(driver, base, checks, model, api_key),
                         lambda: scenario_stop(driver, base, server, checks),
                         lambda: scenario_score(driver, args.tokenizer, checks)):
            try:
                scenario()
                checks.end()
            except Exception as error:
                traceback.print_exc()
                checks.end(crashed=f"{type(error).__name__}: {error}")
        if server_process.poll() is not None:
            print(f"gpt-server exited early; log:\n{open(log_path).read()[-2000:]}")
    except Exception as error:
        traceback.print_exc()
        print(f"setup failed: {error}")
        checks.scenarios.append(("setup", False))
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:
                pass
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        if server_process is not None and server_process.poll() is None:
            server_process.terminate()
            try:
                server_process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server_process.kill()
                server_process.wait()
        shutil.rmtree(temp, ignore_errors=True)

    passed, failed = checks.summary()
    print(f"web: {passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
