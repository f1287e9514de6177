// The Sightline map page: everything is drawn here, from the service's own API; nothing is
// fetched from anywhere else (no tiles, no CDN). The token stays in this tab's
// sessionStorage and travels only in the Authorization header, the alert stream included
// (read with fetch, not EventSource, which cannot send headers).
"use strict";
const $ = (id) => document.getElementById(id);
const W = 1000, H = 700, NS = "http://www.w3.org/2000/svg";
let view = null;  // {south, west, north, east}: what the map shows
const layers = { history: [], area: [], alert: [], cells: [] };

for (const id of ["token", "purpose", "case"]) {
  $(id).value = sessionStorage.getItem("sightline." + id) || "";
  $(id).addEventListener("change", () => sessionStorage.setItem("sightline." + id, $(id).value));
}

function headers() {
  const h = { "Authorization": "Bearer " + $("token").value.trim() };
  if ($("purpose").value.trim()) h["X-Sightline-Purpose"] = $("purpose").value.trim();
  if ($("case").value.trim()) h["X-Sightline-Case"] = $("case").value.trim();
  return h;
}

function status(text, error) { $("status").textContent = text; $("status").className = error ? "error" : ""; }

async function api(path) {
  const response = await fetch(path, { headers: headers() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error || response.status) + ": " + (body.message || response.statusText));
  return body;
}

/// Every page of a paged route.
async function allPages(path, max = 20000) {
  let rows = [], next = null;
  do {
    const page = await api(path + (next ? "&page=" + encodeURIComponent(next) : ""));
    rows = rows.concat(page.sightings);
    next = page.next;
  } while (next && rows.length < max);
  return rows;
}

function timeParams(from, to) {
  let q = "";
  if ($(from).value.trim()) q += "&from=" + encodeURIComponent($(from).value.trim());
  if ($(to).value.trim()) q += "&to=" + encodeURIComponent($(to).value.trim());
  return q;
}

// Equirectangular projection of the current view, with longitude scaled by cos(latitude).
function fit(points, box) {
  let s = 90, w = 180, n = -90, e = -180;
  for (const p of points) { s = Math.min(s, p.lat); n = Math.max(n, p.lat); w = Math.min(w, p.lon); e = Math.max(e, p.lon); }
  if (box) { s = Math.min(s, box[0]); w = Math.min(w, box[1]); n = Math.max(n, box[2]); e = Math.max(e, box[3]); }
  if (s > n) return;
  const pad = Math.max(n - s, e - w, 0.002) * 0.08;
  view = { south: s - pad, west: w - pad, north: n + pad, east: e + pad };
  const k = Math.cos(((view.south + view.north) / 2) * Math.PI / 180);
  const width = (view.east - view.west) * k, height = view.north - view.south;
  if (width / height > W / H) { const grow = (width / (W / H) - height) / 2; view.south -= grow; view.north += grow; }
  else { const grow = (height * (W / H) - width) / k / 2; view.west -= grow; view.east += grow; }
}
const x = (lon) => (lon - view.west) / (view.east - view.west) * W;
const y = (lat) => (view.north - lat) / (view.north - view.south) * H;

function el(name, attributes, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  parent.appendChild(node);
  return node;
}

function graticule() {
  const g = $("graticule");
  g.innerHTML = "";
  g.setAttribute("class", "grid");
  const span = Math.max(view.north - view.south, view.east - view.west);
  const step = Math.pow(10, Math.floor(Math.log10(span / 4)));
  for (let lat = Math.ceil(view.south / step) * step; lat <= view.north; lat += step) {
    el("line", { x1: 0, x2: W, y1: y(lat), y2: y(lat) }, g);
    el("text", { x: 4, y: y(lat) - 3 }, g).textContent = lat.toFixed(4);
  }
  for (let lon = Math.ceil(view.west / step) * step; lon <= view.east; lon += step) {
    el("line", { y1: 0, y2: H, x1: x(lon), x2: x(lon) }, g);
    el("text", { x: x(lon) + 3, y: H - 4 }, g).textContent = lon.toFixed(4);
  }
}

const GEOHASH = "0123456789bcdefghjkmnpqrstuvwxyz";
function geohashBox(hash) {
  let s = -90, n = 90, w = -180, e = 180, even = true;
  for (const c of hash) {
    const v = GEOHASH.indexOf(c);
    for (let bit = 4; bit >= 0; bit--) {
      const on = (v >> bit) & 1;
      if (even) { const m = (w + e) / 2; if (on) w = m; else e = m; } else { const m = (s + n) / 2; if (on) s = m; else n = m; }
      even = !even;
    }
  }
  return [s, w, n, e];
}

function iso(t) { return new Date(t).toISOString().replace(".000Z", "Z"); }

function draw() {
  const all = layers.history.concat(layers.area, layers.alert);
  if (!view) fit(all);
  if (!view) return;
  graticule();
  const heat = $("heat"); heat.innerHTML = "";
  const top = Math.max(1, ...layers.cells.map((c) => c.count));
  for (const c of layers.cells) {
    const [s, w, n, e] = geohashBox(c.geohash);
    el("rect", { class: "cell", x: x(w), y: y(n), width: x(e) - x(w), height: y(s) - y(n), "fill-opacity": (0.1 + 0.6 * c.count / top).toFixed(3),
                 "data-geohash": c.geohash, "data-count": c.count }, heat);
  }
  const track = $("track"); track.innerHTML = "";
  if (layers.history.length > 1) el("polyline", { points: layers.history.map((r) => x(r.lon) + "," + y(r.lat)).join(" ") }, track);
  layers.history.forEach((r, i) => { if (i % Math.ceil(layers.history.length / 12) === 0) el("text", { x: x(r.lon) + 5, y: y(r.lat) - 5 }, track).textContent = iso(r.time); });
  const points = $("points"); points.innerHTML = "";
  for (const [kind, rows] of [["area", layers.area], ["history", layers.history]]) {
    for (const r of rows) {
      const dot = el("circle", { class: "point " + kind, cx: x(r.lon), cy: y(r.lat), r: kind === "history" ? 5 : 3,
                                 "data-plate": r.plate, "data-time": r.time, "data-lat": r.lat, "data-lon": r.lon, "data-camera": r.camera }, points);
      el("title", {}, dot).textContent = r.plate + " " + iso(r.time) + " camera " + r.camera;
    }
  }
  const alerts = $("alert-points"); alerts.innerHTML = "";
  for (const a of layers.alert) {
    el("circle", { class: "point alert", cx: x(a.lon), cy: y(a.lat), r: 7, "data-plate": a.plate, "data-time": a.time,
                   "data-lat": a.lat, "data-lon": a.lon, "data-sequence": a.sequence }, alerts);
  }
}

function table(rows) {
  const body = $("rows").querySelector("tbody");
  body.innerHTML = "";
  for (const r of rows.slice(0, 500)) {
    const tr = document.createElement("tr");
    for (const v of [iso(r.time), r.plate, r.camera]) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); }
    body.appendChild(tr);
  }
}

$("history-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    status("reading…");
    const plate = encodeURIComponent($("plate").value.trim());
    const rows = await allPages("/v1/plates/" + plate + "/sightings?limit=10000" + timeParams("history-from", "history-to"));
    layers.history = rows; layers.area = []; layers.cells = [];
    view = null; draw(); table(rows);
    status(rows.length + " sightings of " + $("plate").value.trim());
    document.body.dataset.history = rows.length;
  } catch (error) { status(error.message, true); }
});

$("area-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    status("reading…");
    const bbox = $("bbox").value.trim();
    const q = "bbox=" + encodeURIComponent(bbox) + timeParams("area-from", "area-to");
    const [rows, heat] = await Promise.all([allPages("/v1/area?limit=10000&" + q), api("/v1/heatmap?precision=" + $("precision").value + "&" + q)]);
    layers.area = rows; layers.history = []; layers.cells = heat.cells;
    view = null; fit(rows, bbox.split(",").map(Number)); draw(); table(rows);
    status(rows.length + " sightings in the area, " + heat.cells.length + " cells");
    document.body.dataset.area = rows.length;
  } catch (error) { status(error.message, true); }
});

// Server-Sent Events through fetch, resuming after the last sequence seen when the
// connection drops.
let lastAlert = null, listening = false;
$("alerts-go").addEventListener("click", async () => {
  if (listening) return;
  listening = true;
  $("alerts-go").textContent = "Listening";
  while (listening) {
    try {
      const h = headers();
      if (lastAlert !== null) h["Last-Event-ID"] = String(lastAlert);
      const response = await fetch("/v1/alerts", { headers: h });
      if (!response.ok) { const b = await response.json().catch(() => ({})); throw new Error((b.error || response.status) + ": " + (b.message || "")); }
      document.body.dataset.alertsConnected = "true";
      const reader = response.body.getReader(), decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          let data = null, id = null;
          for (const line of event.split("\n")) {
            if (line.startsWith("data: ")) data = line.slice(6);
            else if (line.startsWith("id: ")) id = Number(line.slice(4));
          }
          if (data === null) continue;
          const alert = JSON.parse(data);
          lastAlert = id;
          layers.alert.push(alert);
          const li = document.createElement("li");
          li.className = "alert";
          li.dataset.sequence = alert.sequence;
          li.textContent = iso(alert.time) + " " + alert.plate + " (" + alert.list + ")";
          $("alerts").prepend(li);
          if (!view) fit([alert]);
          draw();
        }
      }
    } catch (error) { status(error.message, true); await new Promise((r) => setTimeout(r, 2000)); }
  }
});
