/// The browser front end served at `GET /`: one self-contained page (inline CSS
/// and JavaScript, nothing fetched from elsewhere) that streams `POST /generate`
/// as NDJSON and shows the tokens as they arrive.
///
/// `?api=http://host:port` points the page at another server (default: the
/// page's own origin). An API key, once asked for after a 401, is kept in
/// localStorage per API origin and sent as `Authorization: Bearer <key>`.
enum WebPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gpt-server</title>
<link rel="icon" href="data:,">
<style>
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1c1c21; --muted: #686873; --line: #d6d6de; --panel: #f5f5f8;
  --accent: #2952cc; --accent-fg: #ffffff; --gen: #0a6b4d; --err: #a8201a; --err-bg: #fdeceb;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #151518; --fg: #e6e6ea; --muted: #9c9ca6; --line: #3a3a42; --panel: #1e1e23;
    --accent: #7493f2; --accent-fg: #0c0c10; --gen: #7fdcb4; --err: #ffb4ab; --err-bg: #3a1613;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 1.25rem 1rem 2rem; }
h1 { font-size: 1.25rem; margin: 0; }
#model { margin: .15rem 0 1rem; color: var(--muted); font-size: .875rem; overflow-wrap: anywhere; }
label, legend, summary { font-weight: 600; font-size: .875rem; }
label { display: block; margin-bottom: .2rem; }
.hint { display: block; color: var(--muted); font-size: .75rem; font-weight: 400; }
textarea, input { width: 100%; font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; padding: .4rem .55rem; }
textarea { min-height: 5.5rem; resize: vertical; font-family: var(--mono); font-size: .9rem; }
input[aria-invalid="true"], textarea[aria-invalid="true"] { border-color: var(--err); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
details, fieldset { border: 1px solid var(--line); border-radius: 8px; margin: .75rem 0; padding: .5rem .75rem; }
details[open] { padding-bottom: .75rem; }
summary { cursor: pointer; }
details[open] > summary { margin-bottom: .5rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(8.5rem, 1fr)); gap: .75rem; }
.grid > div { display: flex; flex-direction: column; }
.grid label { flex: 1; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.row input { flex: 1 1 12rem; width: auto; }
button { font: inherit; font-weight: 600; font-size: .9rem; color: inherit; background: var(--panel);
  border: 1px solid var(--line); border-radius: 6px; padding: .45rem 1.1rem; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
button.link { background: none; border: none; padding: 0 .25rem; color: var(--accent); font-weight: 400; text-decoration: underline; }
button:disabled { opacity: .45; cursor: not-allowed; }
.actions { margin: 1rem 0 .75rem; }
.keys { color: var(--muted); font-size: .8rem; }
kbd { font-family: var(--mono); font-size: .75rem; border: 1px solid var(--line); border-radius: 4px; padding: 0 .3rem; }
#keymsg { margin: 0 0 .5rem; font-weight: 600; }
.stats { display: flex; flex-wrap: wrap; gap: .2rem 1.25rem; align-items: baseline; font-size: .875rem; color: var(--muted); margin-bottom: .5rem; }
.stats b { color: var(--fg); font-variant-numeric: tabular-nums; }
#status { font-weight: 600; color: var(--fg); }
#status[data-state="error"] { color: var(--err); }
#status[data-state="generating"], #status[data-state="queued"] { color: var(--accent); }
#output { margin: 0; min-height: 8rem; padding: .75rem; background: var(--panel); border: 1px solid var(--line);
  border-radius: 8px; font-family: var(--mono); font-size: .9rem; white-space: pre-wrap; overflow-wrap: anywhere; }
#prompt-out { color: var(--muted); }
#gen { color: var(--gen); font-weight: 600; }
.legend { font-size: .75rem; color: var(--muted); margin: .3rem 0 0; }
.legend span:first-child { color: var(--muted); }
.legend span:last-child { color: var(--gen); font-weight: 600; }
#error { margin: .75rem 0; padding: .55rem .75rem; border-radius: 6px; color: var(--err); background: var(--err-bg);
  border: 1px solid currentColor; overflow-wrap: anywhere; white-space: pre-wrap; }
#summary { margin: .75rem 0 0; display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .875rem; }
#summary dt { color: var(--muted); }
#summary dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
@media (max-width: 32rem) {
  main { padding: .75rem .6rem 1.5rem; }
  .grid { grid-template-columns: 1fr 1fr; gap: .5rem; }
  .keys { display: none; }
}
</style>
</head>
<body>
<main>
<header>
  <h1>gpt-server</h1>
  <p id="model" data-state="loading">Loading model info…</p>
</header>

<form id="form" novalidate>
  <label for="prompt">Prompt</label>
  <textarea id="prompt" name="prompt" rows="4" spellcheck="false">To be, or not to be:</textarea>

  <details id="settings" open>
    <summary>Settings</summary>
    <div class="grid">
      <div><label for="num_tokens">num_tokens <span class="hint">tokens to generate (50)</span></label>
        <input id="num_tokens" type="number" inputmode="numeric" min="0" step="1" value="50"></div>
      <div><label for="max_seq_len">max_seq_len <span class="hint">context window (32)</span></label>
        <input id="max_seq_len" type="number" inputmode="numeric" min="1" step="1" value="32"></div>
      <div><label for="top_k">top_k <span class="hint">0 = all tokens (5)</span></label>
        <input id="top_k" type="number" inputmode="numeric" min="0" step="1" value="5"></div>
      <div><label for="temp">temp <span class="hint">0 = greedy (1.0)</span></label>
        <input id="temp" type="number" inputmode="decimal" min="0" step="0.1" value="1.0"></div>
      <div><label for="top_p">top_p <span class="hint">1 = off (1.0)</span></label>
        <input id="top_p" type="number" inputmode="decimal" min="0" max="1" step="0.05" value="1.0"></div>
      <div><label for="eos_id">eos_id <span class="hint">stop token, -1 = none</span></label>
        <input id="eos_id" type="number" inputmode="numeric" min="-1" step="1" value="-1"></div>
      <div><label for="seed">seed <span class="hint">empty = random</span></label>
        <input id="seed" type="text" inputmode="numeric" pattern="[0-9]*" autocomplete="off" value=""></div>
      <div><label for="delay_ms">delay_ms <span class="hint">pause per token (0)</span></label>
        <input id="delay_ms" type="number" inputmode="numeric" min="0" max="10000" step="1" value="0"></div>
    </div>
  </details>

  <details id="keybox">
    <summary>API key</summary>
    <p id="keymsg" role="alert" hidden></p>
    <div class="row">
      <label for="apikey" style="flex-basis:100%">API key <span class="hint">kept in this browser (localStorage), sent as Authorization: Bearer</span></label>
      <input id="apikey" type="password" autocomplete="off" spellcheck="false">
      <button type="button" id="savekey">Save key</button>
      <button type="button" id="forgetkey">Forget</button>
    </div>
  </details>

  <div class="row actions">
    <button type="submit" id="generate" class="primary" disabled>Generate</button>
    <button type="button" id="stop" disabled>Stop</button>
    <span class="keys"><kbd>Ctrl</kbd>+<kbd>Enter</kbd> generates, <kbd>Esc</kbd> stops</span>
  </div>
</form>

<div id="error" role="alert" hidden></div>

<div class="stats" role="status" aria-live="polite">
  <span id="status" data-state="idle">idle</span>
  <span><b id="count">0</b> tokens</span>
  <span><b id="rate">–</b> tokens/s</span>
</div>
<pre id="output" aria-label="Output" aria-live="off"><span id="prompt-out"></span><span id="gen"></span></pre>
<p class="legend"><span>prompt</span> · <span>generated</span></p>
<dl id="summary" hidden>
  <dt>finish reason</dt><dd id="finish"></dd>
  <dt>seed</dt><dd><span id="seed-out"></span> <button type="button" class="link" id="reuse-seed">use this seed</button></dd>
  <dt>tokens</dt><dd id="usage"></dd>
  <dt>server timings</dt><dd id="timings"></dd>
</dl>
</main>

<script>
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const api = (params.get("api") || "").replace(/\/+$/, "");
  // Keys are stored per API origin, so a key is never sent to a server it was not given for.
  const keyName = "gpt-server-api-key " + (api || location.origin);
  const storage = (() => { try { return window.localStorage; } catch (e) { return null; } })();
  let apiKey = (storage && storage.getItem(keyName)) || "";

  const fields = [
    ["num_tokens", "int"], ["max_seq_len", "int"], ["top_k", "int"], ["temp", "number"],
    ["top_p", "number"], ["eos_id", "int"], ["delay_ms", "int"],
  ];
  let ready = false;        // model info loaded (or unavailable for good): Generate may be pressed
  let controller = null;    // the running generation's AbortController
  let stopping = false;
  let modelRetry = null;
  let unreachableDelay = 1000;  // doubles (to 30 s) while the server cannot be reached
  let count = 0, firstAt = 0, lastAt = 0, rateTimer = null;
  let genText = null;       // the text node tokens are appended to

  function withAuth(headers) {
    if (apiKey) headers.Authorization = "Bearer " + apiKey;
    return headers;
  }

  function setStatus(state, text) {
    $("status").dataset.state = state;
    $("status").textContent = text;
  }

  function showError(message) {
    $("error").textContent = message;
    $("error").hidden = false;
    $("error").scrollIntoView({ block: "nearest" });
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
    for (const el of document.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  function updateButtons() {
    const running = controller !== null;
    $("generate").disabled = running || !ready;
    $("stop").disabled = !running || stopping;
    $("output").setAttribute("aria-busy", running ? "true" : "false");
  }

  // "HTTP 400: field "top_p" must be ... (invalid_request)" from the server's {"error":{"code","message"}}.
  async function describeError(response) {
    let text = "";
    try { text = await response.text(); } catch (e) { /* no body */ }
    let message = text.trim();
    try {
      const error = JSON.parse(text).error;
      if (typeof error === "string") message = error;
      else if (error && error.message) message = error.message + (error.code ? " (" + error.code + ")" : "");
    } catch (e) { /* not JSON: show the text as it is */ }
    if (message.length > 600) message = message.slice(0, 600) + "…";
    const field = /field "([a-z_]+)"/.exec(message);
    if (field && $(field[1])) {
      $(field[1]).setAttribute("aria-invalid", "true");
      if (field[1] !== "prompt") $("settings").open = true;
      $(field[1]).focus();
    }
    return "HTTP " + response.status + (response.statusText ? " " + response.statusText : "") +
      (message ? ": " + message : "");
  }

  function needKey() {
    const box = $("keybox");
    box.open = true;
    $("keymsg").textContent = apiKey
      ? "This server needs an API key: the stored key was refused. Enter a valid key."
      : "This server needs an API key. Enter it to continue.";
    $("keymsg").hidden = false;
    $("apikey").focus();
  }

  function retryAfter(response, fallback) {
    const seconds = Number(response.headers.get("Retry-After"));
    return seconds > 0 ? Math.min(seconds, 30) * 1000 : fallback;
  }

  function formatCount(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + "B";
    if (n >= 1e6) return (n / 1e6).toFixed(2) + "M";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return String(n);
  }

  function showModel(m) {
    const checkpoint = String(m.checkpoint || "").split("/").pop();
    const parts = [
      m.layers + " layers", m.heads + " heads", m.channels + " channels",
      "vocab " + m.vocab_size, "context " + m.context_length, formatCount(m.parameters) + " parameters",
    ];
    if (checkpoint) parts.push(checkpoint);
    $("model").textContent = "Model: " + parts.join(" · ");
    $("model").title = (m.checkpoint || "") + (m.tokenizer ? "\n" + m.tokenizer : "");
    $("model").dataset.state = "ready";
    const maxSeq = $("max_seq_len");
    maxSeq.max = m.context_length;
    $("top_k").max = m.vocab_size;
    $("eos_id").max = m.vocab_size - 1;
    // The server's own defaults and limits, when it reports them.
    if (m.defaults) for (const [name] of fields) if (name in m.defaults) $(name).value = m.defaults[name];
    if (m.limits) $("num_tokens").max = m.limits.max_num_tokens;
    if (Number(maxSeq.value) > m.context_length) maxSeq.value = m.context_length;
    maxSeq.parentElement.querySelector(".hint").textContent = "context, 1–" + m.context_length + " (32)";
  }

  async function loadModel() {
    clearTimeout(modelRetry);
    $("model").dataset.state = "loading";
    let response;
    try {
      response = await fetch(api + "/model", { headers: withAuth({ Accept: "application/json" }), cache: "no-store" });
    } catch (e) {
      unreachableDelay = Math.min(unreachableDelay * 2, 30000);
      $("model").textContent = "Cannot reach the server (" + e.message + "); retrying in " +
        Math.round(unreachableDelay / 1000) + " s…";
      $("model").dataset.state = "unreachable";
      modelRetry = setTimeout(loadModel, unreachableDelay);
      return;
    }
    unreachableDelay = 1000;
    if (response.status === 401) {
      $("model").textContent = "Model info: " + await describeError(response);
      $("model").dataset.state = "unauthorized";
      ready = false;
      updateButtons();
      needKey();
      return;
    }
    if (response.status === 503) {
      $("model").textContent = "The server is not ready: " + await describeError(response) + "; retrying…";
      modelRetry = setTimeout(loadModel, retryAfter(response, 1000));
      return;
    }
    if (!response.ok) {
      $("model").textContent = "Model info unavailable: " + await describeError(response);
      $("model").dataset.state = "error";
    } else {
      try {
        showModel(await response.json());
        if (apiKey && $("keymsg").hidden) $("keybox").open = false;  // the key works: tuck it away
      } catch (e) {
        $("model").textContent = "Model info unreadable: " + e.message;
        $("model").dataset.state = "error";
      }
    }
    ready = true;
    updateButtons();
  }

  // The request body, or null (with the problem shown) when a field cannot be read.
  function buildBody() {
    const prompt = $("prompt").value;
    if (!prompt) {
      $("prompt").setAttribute("aria-invalid", "true");
      $("prompt").focus();
      showError("Enter a prompt.");
      return null;
    }
    const body = { prompt: prompt, stream: true };
    for (const [name, kind] of fields) {
      const input = $(name);
      const text = input.value.trim();
      if (text === "") {
        if (input.validity && input.validity.badInput) return invalid(input, name + " is not a number.");
        continue;  // empty: the server's default
      }
      const ok = kind === "int" ? /^-?\d+$/.test(text) : /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text);
      if (!ok) return invalid(input, name + " must be " + (kind === "int" ? "a whole number." : "a number."));
      body[name] = Number(text);
    }
    let json = JSON.stringify(body);
    // The seed goes in as written: digits past 2^53 would lose precision as a JavaScript number.
    const seed = $("seed").value.trim();
    if (seed !== "") {
      if (!/^\d+$/.test(seed)) return invalid($("seed"), "seed must be a whole number of 0 or more (or empty for a random seed).");
      json = json.slice(0, -1) + ',"seed":' + seed.replace(/^0+(?=\d)/, "") + "}";
    }
    return json;
  }

  function invalid(input, message) {
    input.setAttribute("aria-invalid", "true");
    $("settings").open = true;
    input.focus();
    showError(message);
    return null;
  }

  function updateRate(now) {
    $("count").textContent = String(count);
    const seconds = (now - firstAt) / 1000;
    $("rate").textContent = count > 0 && seconds > 0 ? (count / seconds).toFixed(1) : "–";
  }

  function ms(value) {
    return typeof value === "number" ? (value >= 100 ? value.toFixed(0) : value.toFixed(1)) + " ms" : "–";
  }

  function finish(message, line) {
    const usage = message.usage || {};
    const t = message.timings || {};
    if (typeof usage.completion_tokens === "number") count = usage.completion_tokens;
    $("count").textContent = String(count);
    const reason = String(message.finish_reason);
    $("finish").textContent = reason;
    // Read the seed from the raw line so it keeps every digit.
    const seed = /"seed"\s*:\s*(\d+)/.exec(line);
    $("seed-out").textContent = seed ? seed[1] : String(message.seed);
    $("usage").textContent = "prompt " + usage.prompt_tokens + " + generated " + usage.completion_tokens +
      " = " + usage.total_tokens;
    // The server's figures are compute time: delay_ms pauses are not in them.
    $("timings").textContent = "queue " + ms(t.queue_ms) + " · prefill " + ms(t.prefill_ms) +
      " · first token " + ms(t.time_to_first_token_ms) + " · decode " + ms(t.decode_ms) +
      " · " + ms(t.ms_per_token) + "/token (" +
      (typeof t.tokens_per_second === "number" ? t.tokens_per_second.toFixed(1) : "–") + " tokens/s computing)";
    $("summary").hidden = false;
    setStatus("done", "finished: " + reason);
  }

  // One NDJSON line; true when it was the final summary.
  function handleLine(line) {
    if (!line.trim()) return false;
    let message;
    try {
      message = JSON.parse(line);
    } catch (e) {
      showError("Unreadable line from the server: " + line.slice(0, 200));
      return false;
    }
    if (message.done) {
      finish(message, line);
      return true;
    }
    if (typeof message.text === "string") {
      const now = performance.now();
      if (message.id !== undefined && message.id !== null) {
        if (count === 0) firstAt = now;
        count += 1;
        lastAt = now;
      }
      if (message.text) genText.appendData(message.text);
      if ($("status").dataset.state !== "generating") setStatus("generating", "generating");
      updateRate(now);
    } else if (message.status === "queued") {
      setStatus("queued", "queued");
    } else if (message.error) {
      const e = message.error;
      showError("Server error: " + (typeof e === "string" ? e : e.message || JSON.stringify(e)));
    }
    return false;
  }

  async function generate() {
    if (controller || !ready) return;
    clearError();
    const body = buildBody();
    if (body === null) return;

    $("prompt-out").textContent = $("prompt").value;
    genText = document.createTextNode("");
    $("gen").replaceChildren(genText);
    $("summary").hidden = true;
    count = 0; firstAt = 0; lastAt = 0;
    $("count").textContent = "0";
    $("rate").textContent = "–";
    controller = new AbortController();
    stopping = false;
    updateButtons();
    setStatus("connecting", "connecting…");
    rateTimer = setInterval(() => { if (count > 0) updateRate(performance.now()); }, 250);

    let finished = false;
    try {
      const response = await fetch(api + "/generate", {
        method: "POST",
        headers: withAuth({ "Content-Type": "application/json", Accept: "application/x-ndjson" }),
        body: body,
        signal: controller.signal,
        cache: "no-store",
      });
      if (!response.ok) {
        const message = await describeError(response);
        if (response.status === 401) needKey();
        showError(message);
        setStatus("error", "error " + response.status);
        return;
      }
      setStatus("waiting", "waiting for the first token…");
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
        const lines = buffer.split("\n");
        buffer = done ? "" : lines.pop();  // keep the partial last line for the next chunk
        for (const line of lines) if (handleLine(line)) finished = true;
        if (done) break;
      }
      if (!finished) {
        showError("The stream ended before the final summary: the server closed the connection.");
        setStatus("error", "interrupted");
      }
    } catch (e) {
      if (stopping || (e && e.name === "AbortError")) {
        setStatus("stopped", "stopped");
      } else {
        showError("Request failed: " + (e && e.message ? e.message : e));
        setStatus("error", "error");
      }
    } finally {
      clearInterval(rateTimer);
      if (count > 0) updateRate(lastAt);
      controller = null;
      stopping = false;
      updateButtons();
    }
  }

  function stop() {
    if (!controller) return;
    stopping = true;
    controller.abort();  // closes the connection: the server cancels the generation
    setStatus("stopped", "stopped");
    updateButtons();
  }

  $("form").addEventListener("submit", (event) => { event.preventDefault(); generate(); });
  $("stop").addEventListener("click", stop);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      generate();
    } else if (event.key === "Escape" && controller) {
      stop();
    }
  });
  $("savekey").addEventListener("click", () => {
    apiKey = $("apikey").value.trim();
    if (storage) { if (apiKey) storage.setItem(keyName, apiKey); else storage.removeItem(keyName); }
    $("keymsg").hidden = true;
    clearError();
    loadModel();
  });
  $("apikey").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) { event.preventDefault(); $("savekey").click(); }
  });
  $("forgetkey").addEventListener("click", () => {
    apiKey = "";
    $("apikey").value = "";
    if (storage) storage.removeItem(keyName);
  });
  $("reuse-seed").addEventListener("click", () => {
    $("seed").value = $("seed-out").textContent;
    $("settings").open = true;
    $("seed").focus();
  });
  for (const [name] of fields.concat([["seed"], ["prompt"]])) {
    $(name).addEventListener("input", () => $(name).removeAttribute("aria-invalid"));
  }

  $("apikey").value = apiKey;
  updateButtons();
  loadModel();
})();
</script>
</body>
</html>
"""#
}
