#!/usr/bin/env python3
"""Zero-loss rolling restarts: three gpt-server replicas behind a real nginx.

Runs Debian's nginx with deploy/nginx/gpt-server.conf (only its ports
changed) in front of three gpt-server replicas on loopback ports, each
started with the server.json of deploy/kubernetes/configmap.yaml and an API
key, and checks:

  rolling restart  200 requests (NDJSON and SSE streams, and whole answers,
                   on /generate and /v1/completions) from 16 concurrent
                   clients while each replica in turn gets SIGTERM, must exit
                   0 within its drain timeout and is started again. Every
                   request gets 200 and a complete, well-formed body (a final
                   `done` object or `[DONE]`, every token), and seeded
                   requests give the tokens that a single server gives;
  disconnects      a client that hangs up mid-stream through nginx frees its
                   slot on the replica (the replicas' /health counts drop to
                   zero);
  queue full       with one replica's slots and queue held by direct
                   clients, requests through nginx that meet its 503
                   queue_full go on to another replica and succeed;
  first token      through nginx the first token of a paced stream arrives
                   long before its last (nothing buffers the stream), and its
                   time to first token is compared with a direct request;
  dashboard        every series deploy/kubernetes/grafana-dashboard.json
                   queries exists in a replica's /metrics;
  manifests        the Deployment's grace period outlasts preStop plus the
                   ConfigMap's drain timeout, its liveness probe outlasts the
                   grace period, probes ask /health, it runs as the
                   Dockerfile's numeric user, with a read-only root, and its
                   CPUs match the compute threads; the ConfigMap has every
                   setting of config/server.json.

The replicas serve the bundled model (models/shakespeare); --small-model
serves a small random one made by gpt-random-model instead, for a quicker run.
Needs nginx (apt-get install nginx) and PyYAML (pulled in by
kubernetes-validate). The last line is `deploy: N passed, M failed`.

    python3 scripts/deploy_test.py [--build .build/debug] [--small-model]
"""
import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NGINX_SITE = os.path.join(ROOT, "deploy", "nginx", "gpt-server.conf")
CONFIGMAP = os.path.join(ROOT, "deploy", "kubernetes", "configmap.yaml")
DEPLOYMENT = os.path.join(ROOT, "deploy", "kubernetes", "deployment.yaml")
DASHBOARD = os.path.join(ROOT, "deploy", "kubernetes", "grafana-dashboard.json")
BUNDLED = os.path.join(ROOT, "models", "shakespeare")
KEY = "deploy-test-key"
PROMPTS = ["To be, or not to be:", "ROMEO: ", "Once upon a time", "The quick brown fox", "Friends, Romans,"]
REQUESTS = 200
CLIENTS = 16
DRAIN_TIMEOUT = 20
# A replica that has not exited this long after SIGTERM is stuck (exit() can
# hang in OpenBLAS's exit handler): it fails the test and is killed.
EXIT_GRACE = DRAIN_TIMEOUT + 15


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")
        return condition


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {KEY}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Replica:
    """One gpt-server process on a fixed loopback port, restartable."""

    def __init__(self, build, config, model, port, log_path):
        checkpoint, tokenizer = model
        self.command = [os.path.join(build, "gpt-server"), "--config", config, "--host", "127.0.0.1",
                        "--port", str(port), "--ckpt", checkpoint, "--tokenizer", tokenizer]
        self.port = port
        self.log_path = log_path
        self.process = None

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=log,
                                        env={**os.environ, "GPT_SERVER_API_KEY": KEY})
        log.close()
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline().decode() if ready else ""
        if f"127.0.0.1:{self.port}" not in line:
            self.kill()
            raise RuntimeError(f"replica on port {self.port} did not start: {line!r} (log: {self.log_path})")

    def terminate(self):
        """SIGTERM, then waits; returns the exit status, or None if it had to be killed."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=EXIT_GRACE)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def load(self):
        """(active, queued) from /health, or None when it does not answer 200."""
        try:
            status, body = get_json(self.port, "/health")
        except OSError:
            return None
        if status != 200:
            return None
        health = json.loads(body)
        return health["active"], health["queued"]

    def memory(self):
        """(peak RSS in MB, threads) from /proc."""
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                fields[name] = value.split()
        return int(fields["VmHWM"][0]) / 1024, int(fields["Threads"][0])


class Nginx:
    """Debian's nginx in the foreground with its own prefix, config, pid and logs."""

    def __init__(self, folder, port, upstream_ports):
        site = open(NGINX_SITE).read()
        servers = re.findall(r"server 127\.0\.0\.1:\d+", site)
        if len(servers) != len(upstream_ports):
            raise RuntimeError(f"{NGINX_SITE} lists {len(servers)} replicas, the test runs {len(upstream_ports)}")
        for server, upstream in zip(servers, upstream_ports):
            site = site.replace(server, f"server 127.0.0.1:{upstream}", 1)
        site, listens = re.subn(r"listen \d+;", f"listen 127.0.0.1:{port};", site)
        if listens != 1:
            raise RuntimeError(f"{NGINX_SITE} should have one listen line")
        self.folder = folder
        self.access_log = os.path.join(folder, "access.log")
        self.error_log = os.path.join(folder, "error.log")
        with open(os.path.join(folder, "gpt-server.conf"), "w") as file:
            file.write(site)
        with open(os.path.join(folder, "nginx.conf"), "w") as file:
            file.write(f"""
worker_processes 1;
pid {folder}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    log_format upstreams '$request_uri $status upstreams=$upstream_addr statuses=$upstream_status';
    access_log {self.access_log} upstreams;
    include {folder}/gpt-server.conf;
}}
""")
        self.port = port
        self.process = None

    def start(self):
        # As root, workers would run as an unprivileged user that cannot enter the private temp folder.
        directives = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
        self.process = subprocess.Popen(
            ["nginx", "-p", self.folder, "-c", os.path.join(self.folder, "nginx.conf"), "-e", self.error_log,
             "-g", directives], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited at startup: {open(self.error_log).read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start listening")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finishes open requests
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ------------------------------------------------------------- requests ----

def request_specs(model_id):
    """The 200 requests: four kinds in turn, most seeded, a few not."""
    specs = []
    for i in range(REQUESTS):
        kind = ["ndjson", "sse", "generate", "completion"][i % 4]
        # 15 different seeded requests per route (so the single-server reference is quick to make).
        tokens = 12 + 4 * (i % 5)
        prompt = PROMPTS[i % len(PROMPTS)]
        seed = None if i % 10 == 9 else 100 + i % 3
        if kind in ("ndjson", "generate"):
            body = {"prompt": prompt, "num_tokens": tokens, "max_seq_len": 128, "stream": kind == "ndjson",
                    "delay_ms": 2 * (i % 5)}
            path = "/generate"
        else:
            body = {"model": model_id, "prompt": prompt, "max_tokens": tokens, "stream": kind == "sse"}
            if kind == "sse":
                body["stream_options"] = {"include_usage": True}
            path = "/v1/completions"
        if seed is not None:
            body["seed"] = seed
        specs.append({"index": i, "kind": kind, "path": path, "body": body, "tokens": tokens})
    return specs


def post(port, path, body, accept=None, timeout=120):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    if accept:
        headers["Accept"] = accept
    connection.request("POST", path, body=json.dumps(body), headers=headers)
    return connection, connection.getresponse()


def run_request(port, spec):
    """Sends one request; returns what came back: {"tokens"} ids or {"text"}, or {"error"}."""
    kind = spec["kind"]
    accept = {"ndjson": "application/x-ndjson", "sse": "text/event-stream"}.get(kind)
    connection, response = post(port, spec["path"], spec["body"], accept)
    try:
        if response.status != 200:
            return {"error": f"status {response.status}: {response.read()[:200]!r}"}
        if kind == "ndjson":
            return parse_ndjson(response, spec["tokens"])
        if kind == "sse":
            return parse_sse(response, spec["tokens"])
        whole = json.loads(response.read())
        if kind == "generate":
            if len(whole["token_ids"]) != spec["tokens"] or whole["finish_reason"] != "length":
                return {"error": f"incomplete answer: {len(whole['token_ids'])} tokens, {whole['finish_reason']}"}
            return {"tokens": whole["token_ids"]}
        choice = whole["choices"][0]
        if not complete_completion(choice["finish_reason"], whole["usage"], spec["tokens"]):
            return {"error": f"incomplete completion: {whole['usage']}, {choice['finish_reason']}"}
        return {"text": choice["text"]}
    except (OSError, ValueError, KeyError, http.client.HTTPException) as error:
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        connection.close()


def parse_ndjson(response, expected):
    ids, done = [], None
    for line in response:
        if done is not None:
            return {"error": f"a line after the done object: {line!r}"}
        message = json.loads(line)
        if message.get("done"):
            done = message
        elif "id" in message:
            ids.append(message["id"])
        elif message != {"status": "queued"} and "text" not in message:
            return {"error": f"unexpected line {line!r}"}
    if done is None:
        return {"error": f"stream ended without a done object after {len(ids)} tokens"}
    if len(ids) != expected or done["usage"]["completion_tokens"] != expected:
        return {"error": f"{len(ids)} token lines, done says {done['usage']}, asked {expected}"}
    return {"tokens": ids}


def complete_completion(finish_reason, usage, asked):
    """/v1 requests may draw the end-of-text token (OpenAI semantics): then they stop early, with "stop"."""
    generated = usage["completion_tokens"]
    return (finish_reason == "length" and generated == asked) or (finish_reason == "stop" and generated < asked)


def parse_sse(response, expected):
    text, chunks, finished, usage, done = "", 0, None, None, False
    for line in response:
        line = line.decode().rstrip("\n")
        if not line or line.startswith(":"):
            continue
        if done:
            return {"error": f"an event after [DONE]: {line!r}"}
        if not line.startswith("data: "):
            return {"error": f"not an event line: {line!r}"}
        if line == "data: [DONE]":
            done = True
            continue
        chunk = json.loads(line[6:])
        if not chunk["choices"]:
            usage = chunk["usage"]
            continue
        choice = chunk["choices"][0]
        text += choice["text"]
        chunks += 1
        finished = choice.get("finish_reason") or finished
    if not done or usage is None or not complete_completion(finished, usage, expected):
        return {"error": f"stream incomplete: [DONE] {done}, {chunks} chunks, finish {finished}, usage {usage}"}
    return {"text": text}


def reference_key(spec):
    body = dict(spec["body"], stream=False)
    body.pop("delay_ms", None)
    body.pop("stream_options", None)
    return spec["path"], json.dumps(body, sort_keys=True)


def expected_value(path, whole):
    return whole["token_ids"] if path == "/generate" else whole["choices"][0]["text"]


# ------------------------------------------------------------ scenarios ----

def rolling_restart(checks, replicas, nginx, reference_port, load_samples):
    _, models = get_json(reference_port, "/v1/models")
    specs = request_specs(json.loads(models)["data"][0]["id"])
    references = {}
    for spec in specs:
        if "seed" in spec["body"] and reference_key(spec) not in references:
            path, body = reference_key(spec)
            connection, response = post(reference_port, path, json.loads(body))
            references[(path, body)] = expected_value(path, json.loads(response.read()))
            connection.close()

    results = [None] * len(specs)
    lock = threading.Lock()
    state = {"next": 0, "in_flight": 0, "done": 0}

    def client():
        while True:
            with lock:
                if state["next"] >= len(specs):
                    return
                spec = specs[state["next"]]
                state["next"] += 1
                state["in_flight"] += 1
            try:
                result = run_request(nginx.port, spec)
            except Exception as error:  # a refused or reset connection to nginx itself
                result = {"error": f"{type(error).__name__}: {error}"}
            results[spec["index"]] = result
            with lock:
                state["in_flight"] -= 1
                state["done"] += 1

    def sample_memory():
        while any(result is None for result in results):
            for replica in replicas:
                try:
                    load_samples.append(replica.memory())
                except (OSError, KeyError):
                    pass  # between a stop and a restart
            time.sleep(0.5)

    clients = [threading.Thread(target=client) for _ in range(CLIENTS)]
    sampler = threading.Thread(target=sample_memory)
    for thread in clients + [sampler]:
        thread.start()

    restarts = []
    for replica in replicas:
        while True:
            with lock:
                if state["done"] >= 20 + 40 * len(restarts):
                    break
            time.sleep(0.05)
        with lock:
            in_flight = state["in_flight"]
        status = replica.terminate()
        replica.start()
        restarts.append((replica.port, in_flight, status))
        deadline = time.monotonic() + 30
        while replica.load() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    with lock:
        done_when_restarted = state["done"]
    for thread in clients + [sampler]:
        thread.join()

    for port, in_flight, status in restarts:
        checks.check(f"replica :{port} exits 0 after SIGTERM within {EXIT_GRACE} s", status == 0,
                     "killed, it did not exit" if status is None else f"exit status {status}")
        checks.check(f"replica :{port} got SIGTERM with requests in flight", in_flight > 0, f"{in_flight} in flight")
    checks.check("the load went on after the last restart", done_when_restarted < len(specs),
                 f"{done_when_restarted} of {len(specs)} done when the last replica was back")

    errors = [(spec["index"], spec["kind"], result["error"])
              for spec, result in zip(specs, results) if "error" in result]
    checks.check(f"all {len(specs)} requests complete and well-formed", not errors,
                 f"{len(errors)} failed, first: {errors[:3]}")
    mismatched, seeded = [], 0
    for spec, result in zip(specs, results):
        if "seed" in spec["body"] and "error" not in result:
            seeded += 1
            got = result.get("tokens", result.get("text"))
            if got != references[reference_key(spec)]:
                mismatched.append(spec["index"])
    checks.check(f"{seeded} seeded requests equal a single server's tokens", not mismatched and seeded > 100,
                 f"mismatched: {mismatched[:10]}")

    log = open(nginx.access_log).read().splitlines()
    retried = [line for line in log if "," in line.split("upstreams=")[1]]
    served = {port: sum(f"127.0.0.1:{port}" in line for line in log) for port in (r.port for r in replicas)}
    checks.check("every replica served requests", all(served.values()), served)
    print(f"     nginx retried {len(retried)} of {len(log)} requests on another replica; per replica: {served}")
    for line in retried[:5]:
        print(f"     {line}")


def total_load(replicas):
    loads = [replica.load() for replica in replicas]
    return None if None in loads else tuple(map(sum, zip(*loads)))


def wait_for_load(replicas, wanted, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if total_load(replicas) == wanted:
            return True
        time.sleep(0.1)
    return False


def disconnects(checks, replicas, nginx):
    # 1000 tokens at 50 ms each would take 50 s: a slot free within 20 s was freed by the hang-up.
    body = {"prompt": "A long one", "num_tokens": 1000, "max_seq_len": 128, "delay_ms": 50, "seed": 1}
    connection, response = post(nginx.port, "/generate", body, "application/x-ndjson")
    first = response.readline()
    running = total_load(replicas)
    connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    checks.check("a stream through nginx runs on a replica", b'"id"' in first and running == (1, 0),
                 f"first line {first!r}, load {running}")
    checks.check("a client that hangs up mid-stream frees the replica's slot", wait_for_load(replicas, (0, 0), 20),
                 f"load {total_load(replicas)}")


def queue_full(checks, replicas, nginx):
    """A replica whose queue is full answers 503 queue_full; nginx sends the request on to another."""
    busy = replicas[0]
    settings = json.load(open(busy.command[busy.command.index("--config") + 1]))
    capacity = settings["max_active"] + settings["max_queued"]
    body = {"prompt": "Hold the slot", "num_tokens": 1000, "max_seq_len": 128, "delay_ms": 100, "seed": 3}
    holders = []
    for _ in range(capacity):
        raw = socket.create_connection(("127.0.0.1", busy.port))
        payload = json.dumps(dict(body, stream=False)).encode()
        raw.sendall(b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"Authorization: Bearer {KEY}\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
        holders.append(raw)
    deadline = time.monotonic() + 20
    while busy.load() != (settings["max_active"], settings["max_queued"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    full = busy.load()
    logged = len(open(nginx.access_log).read().splitlines())
    statuses = []
    for _ in range(6):
        connection, response = post(nginx.port, "/generate", {"prompt": "Short", "num_tokens": 4, "stream": False})
        statuses.append(response.status)
        response.read()
        connection.close()
    for raw in holders:
        # A reset, which the replica notices at once; a plain close (a FIN) could be a half-close,
        # and a "stream": false request whose client sent one runs to its end.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
    lines = open(nginx.access_log).read().splitlines()[logged:]
    retried = [line for line in lines if f"upstreams=127.0.0.1:{busy.port}, " in line and "statuses=503, 200" in line]
    checks.check("a replica with a full queue is full", full == (settings["max_active"], settings["max_queued"]), full)
    checks.check("requests that met a full queue went to another replica and succeeded",
                 statuses == [200] * 6 and retried, f"statuses {statuses}, log {lines}")
    checks.check("the held requests leave when their clients do", wait_for_load([busy], (0, 0), 20), busy.load())


def first_token(checks, replicas, nginx):
    """Times to first token and to the end of a paced stream, through nginx and directly."""
    body = {"prompt": "ROMEO: ", "num_tokens": 40, "max_seq_len": 128, "delay_ms": 25, "seed": 2}
    figures = {"nginx": [], "direct": []}
    routes = [("nginx", nginx.port), ("direct", replicas[0].port)]
    for run in range(6):
        for route, port in routes if run % 2 else routes[::-1]:
            started = time.monotonic()
            connection, response = post(port, "/generate", body, "application/x-ndjson")
            if response.status != 200:
                raise RuntimeError(f"first-token request via {route}: status {response.status}")
            first = None
            for line in response:
                if first is None and b'"id"' in line:
                    first = time.monotonic() - started
            figures[route].append((first, time.monotonic() - started))
            connection.close()
    ratios = [first / total for first, total in figures["nginx"]]
    checks.check("through nginx the first token comes before a quarter of the stream's time",
                 max(ratios) < 0.25, f"first/total ratios {ratios}")
    medians = {route: statistics.median(first for first, _ in runs) * 1000 for route, runs in figures.items()}
    totals = {route: statistics.median(total for _, total in runs) * 1000 for route, runs in figures.items()}
    print(f"     time to first token, median of 6: nginx {medians['nginx']:.1f} ms, direct {medians['direct']:.1f} ms; "
          f"whole 40-token stream: nginx {totals['nginx']:.0f} ms, direct {totals['direct']:.0f} ms")


def manifests(checks, settings):
    """The Kubernetes manifests agree with each other, the server's drain and the image."""
    deployment = yaml.safe_load(open(DEPLOYMENT))
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    grace = pod["terminationGracePeriodSeconds"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = settings["drain_timeout_seconds"]
    checks.check("grace period > preStop + drain timeout", grace > pre_stop + drain,
                 f"grace {grace}, preStop {pre_stop}, drain {drain}")
    liveness = container["livenessProbe"]
    checks.check("the liveness probe outlasts the grace period",
                 liveness["periodSeconds"] * liveness["failureThreshold"] > grace, liveness)
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    probes = [container[name]["httpGet"] for name in ("startupProbe", "readinessProbe", "livenessProbe")]
    checks.check("probes ask /health on the server's port", port == settings["port"]
                 and all(probe["path"] == "/health" and probe["port"] == "http" for probe in probes), probes)
    user = re.search(r"^USER (\d+):(\d+)$", open(os.path.join(ROOT, "Dockerfile")).read(), re.MULTILINE)
    security = pod["securityContext"]
    checks.check("non-root as the image's numeric user, read-only root filesystem",
                 security["runAsNonRoot"] and user and (security["runAsUser"], security["runAsGroup"])
                 == (int(user[1]), int(user[2])) and container["securityContext"]["readOnlyRootFilesystem"],
                 f"pod {security}, Dockerfile USER {user and user.groups()}")
    defaults = json.load(open(os.path.join(ROOT, "config", "server.json")))
    checks.check("the ConfigMap's server.json sets every setting config/server.json has",
                 set(settings) == set(defaults) and set(settings["defaults"]) == set(defaults["defaults"]),
                 f"missing {sorted(set(defaults) - set(settings))}, unknown {sorted(set(settings) - set(defaults))}")
    cpus = container["resources"]["limits"]["cpu"]
    checks.check("CPU request and limit equal the compute threads",
                 cpus == container["resources"]["requests"]["cpu"] == str(settings["threads"]), container["resources"])


def dashboard(checks, replicas):
    status, metrics = get_json(replicas[0].port, "/metrics")
    exposed = set(re.findall(r"^([a-z_]+)[{ ]", metrics.decode(), re.MULTILINE))
    panels = json.load(open(DASHBOARD))["panels"]
    queried = {name for panel in panels for target in panel.get("targets", [])
               for name in re.findall(r"\b(?:gpt|http)_[a-z_]+", target["expr"])}
    missing = sorted(queried - exposed)
    checks.check("the dashboard's series exist in /metrics", status == 200 and queried and not missing,
                 f"missing {missing}, queried {sorted(queried)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=".build/debug")
    parser.add_argument("--small-model", action="store_true", help="serve a small random model (quicker)")
    args = parser.parse_args()
    if shutil.which("nginx") is None:
        sys.exit("deploy_test: nginx is not installed (scripts/setup.sh --test installs it)")

    folder = tempfile.mkdtemp(prefix="deploy-test-")
    if not args.small_model:
        model = (os.path.join(BUNDLED, "gpt_checkpoint.bin"), os.path.join(BUNDLED, "tokenizer.json"))
    else:
        tokenizer = os.path.join(ROOT, "Tests", "GPTTests", "Fixtures", "tokenizer", "gpt2ish.json")
        model = (os.path.join(folder, "m.bin"), tokenizer)
        subprocess.run([os.path.join(args.build, "gpt-random-model"), "--out", model[0], "--context", "128",
                        "--vocab", "2100", "--layers", "2", "--heads", "2", "--channels", "64", "--seed", "5"],
                       check=True, stdout=subprocess.DEVNULL)
    documents = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(open(CONFIGMAP))}
    settings = json.loads(documents["gpt-server-config"]["data"]["server.json"])
    checks = Checks()
    config = os.path.join(folder, "server.json")
    with open(config, "w") as file:
        json.dump(dict(settings, drain_timeout_seconds=DRAIN_TIMEOUT), file)

    replicas = [Replica(args.build, config, model, free_port(), os.path.join(folder, f"replica{i}.log"))
                for i in range(3)]
    reference = Replica(args.build, config, model, free_port(), os.path.join(folder, "reference.log"))
    nginx_folder = os.path.join(folder, "nginx")
    os.mkdir(nginx_folder)
    nginx = Nginx(nginx_folder, free_port(), [replica.port for replica in replicas])
    samples = []
    try:
        manifests(checks, settings)
        for replica in replicas + [reference]:
            replica.start()
        nginx.start()
        rolling_restart(checks, replicas, nginx, reference.port, samples)
        disconnects(checks, replicas, nginx)
        queue_full(checks, replicas, nginx)
        first_token(checks, replicas, nginx)
        dashboard(checks, replicas)
        if samples:
            print(f"     replicas under load: peak RSS {max(rss for rss, _ in samples):.0f} MB, "
                  f"up to {max(threads for _, threads in samples)} threads")
    except Exception as error:
        checks.check("the test ran to the end", False, f"{type(error).__name__}: {error}")
    finally:
        nginx.stop()
        for replica in replicas + [reference]:
            replica.kill()
    if checks.failed:
        print(f"logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"deploy: {checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
