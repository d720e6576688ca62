"""GET /: a page to drop a photo on and see the top-5 as bars (no external assets: works offline)."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>sportsedge</title>
<style>
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
#drop{border:2px dashed #888;border-radius:8px;padding:2rem;text-align:center;cursor:pointer}
#drop.over{background:#eef}
.row{display:flex;align-items:center;margin:.3rem 0}
.name{width:12rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{height:1.1rem;background:#3a7;margin:0 .5rem}
#error{color:#b00}
#auth{margin:1rem 0}
#auth input{width:20rem}
img{max-width:100%;max-height:16rem;display:block;margin:1rem auto}
</style></head>
<body>
<h1>sportsedge</h1>
<p id="model">Model: loading...</p>
<form id="auth" hidden><label>This server needs its token:
<input id="token" type="password" autocomplete="off" placeholder="paste the token"></label>
<button type="submit">Use it</button> <small>(kept for this tab only)</small></form>
<div id="drop">Drop a photo here, or click to choose one<input id="file" type="file" accept="image/*" hidden></div>
<img id="preview" alt="" hidden>
<div id="results"></div>
<p id="error"></p>
<script>
const drop = document.getElementById("drop"), file = document.getElementById("file");
const results = document.getElementById("results"), error = document.getElementById("error");
const headers = {};
const auth = document.getElementById("auth"), modelLine = document.getElementById("model");
// The token comes from the URL's fragment (#token=...), which never leaves the browser. Read it
// by hand: URLSearchParams would turn a base64 "+" into a space; decodeURIComponent keeps it and
// undoes %2B-style escapes, so a token works pasted raw or percent-encoded.
function tokenFromFragment() {
  for (const part of location.hash.slice(1).split("&")) {
    if (!part.startsWith("token=")) continue;
    try { return decodeURIComponent(part.slice(6)); } catch (e) { return part.slice(6); }
  }
  return null;
}
function useToken(t) {
  if (t) { headers["Authorization"] = "Bearer " + t; sessionStorage.setItem("sportsedge-token", t); }
}
useToken(tokenFromFragment() || sessionStorage.getItem("sportsedge-token"));
async function loadModel() {
  try {
    const r = await fetch("v1/models", {headers});
    const m = await r.json();
    if (r.status === 401) {
      auth.hidden = false;
      modelLine.textContent = headers["Authorization"] ? "Model: that token was refused" : "Model: needs the token";
      return;
    }
    if (!r.ok) { modelLine.textContent = "Model: " + (m.error || ("HTTP " + r.status)); return; }
    auth.hidden = true;
    const name = m.model_name || m.path;
    modelLine.textContent = "Model: " + name + " (" + m.format + ", " + m.labels.length + " classes)";
  } catch (e) {
    modelLine.textContent = "Model: the server does not answer (" + e + ")";
  }
}
auth.onsubmit = e => { e.preventDefault(); useToken(document.getElementById("token").value.trim()); loadModel(); };
loadModel();
drop.onclick = () => file.click();
drop.ondragover = e => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = e => { e.preventDefault(); drop.classList.remove("over"); send(e.dataTransfer.files[0]); };
file.onchange = () => send(file.files[0]);
async function send(f) {
  if (!f) return;
  error.textContent = ""; results.innerHTML = "";
  const preview = document.getElementById("preview");
  preview.src = URL.createObjectURL(f); preview.hidden = false;
  const body = new FormData(); body.append("image", f);
  const r = await fetch("v1/classify?top_k=5", {method: "POST", body, headers});
  const j = await r.json();
  if (!r.ok) { error.textContent = j.error || ("HTTP " + r.status); return; }
  for (const p of j.top_k) {
    const row = document.createElement("div"); row.className = "row result";
    const name = document.createElement("span"); name.className = "name label"; name.textContent = p.label;
    const bar = document.createElement("span"); bar.className = "bar"; bar.style.width = (p.score * 15) + "rem";
    const score = document.createElement("span"); score.className = "score"; score.textContent = p.score.toFixed(3);
    row.append(name, bar, score); results.append(row);
  }
}
</script></body></html>
"""
