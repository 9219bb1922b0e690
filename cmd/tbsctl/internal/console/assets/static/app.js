"use strict";
// The console's pages. Data is fetched as JSON (the output of tbsctl's own
// commands) and rendered with textContent only: nothing from the store is
// ever parsed as HTML. Live pages poll every me.pollMs.

let me = null;
let timer = null;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

function table(id, heads, rows) {
  return el("table", { id: id },
    el("thead", {}, el("tr", {}, heads.map(h => el("th", { text: h })))),
    el("tbody", {}, rows.map(r => el("tr", { class: r.cls }, r.cells.map(c => c instanceof Node ? el("td", {}, c) : el("td", { text: c === undefined || c === "" ? "-" : String(c) }))))));
}

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; throw new Error("not logged in"); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// post sends a change with the session's CSRF token; it returns the
// answer, with ok false and the server's refusal when it was refused.
async function post(url, body) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf },
    body: JSON.stringify(body)
  });
  let data = {};
  try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
  data.ok = r.ok && data.ok !== false;
  return data;
}

function flash(text, ok) {
  const f = document.getElementById("flash");
  f.textContent = text;
  f.className = ok ? "ok" : "error";
  f.hidden = false;
}

function resultText(d) {
  const r = d.result || {};
  return [d.error, r.out, d.ok ? "" : r.err].filter(Boolean).join("\n").trim();
}

// act runs a change from a button and shows its outcome.
async function act(url, body, what) {
  const d = await post(url, body);
  flash((d.ok ? what + ": done\n" : what + ": REFUSED\n") + resultText(d), d.ok);
  refresh();
  return d;
}

function fmtTime(t) {
  if (!t || t.startsWith("0001-")) return "-";
  return new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function operator() { return me && me.role === "operator"; }

function button(text, id, onclick, opts) {
  const b = el("button", { type: "button", id: id, class: (opts && opts.cls) || "", on: { click: onclick } }, text);
  if (!operator()) { b.disabled = true; b.title = "viewers cannot change anything"; }
  return b;
}

// live renders a page now and again every pollMs, until another page.
// target is where the page is rendered (default #view); a page with
// inputs keeps them outside it, so a refresh does not reset them.
let render = null;
let liveTarget = null;
function live(fn, target) {
  render = fn;
  liveTarget = target || null;
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, me.pollMs);
}

async function refresh() {
  if (!render) return;
  const upd = document.getElementById("updated");
  try {
    const node = await render();
    (liveTarget || document.getElementById("view")).replaceChildren(node);
    upd.textContent = "updated " + new Date().toLocaleTimeString();
    upd.className = "";
  } catch (e) {
    upd.textContent = "update failed: " + e.message;
    upd.className = "error";
  }
}

function show(node) { render = null; clearInterval(timer); document.getElementById("view").replaceChildren(node); }

// ---- overview

function runtimeCounts(tt) {
  const c = { servers: 0, items: 0, owned: 0, unassigned: 0, held: 0, orphaned: 0, windows: new Set() };
  for (const rt of tt.runtimes) {
    c.servers += rt.servers.length;
    c.items += rt.items.filter(i => i.flag !== "removed").length;
    c.unassigned += rt.unassigned; c.held += rt.held; c.orphaned += rt.orphaned - rt.held;
    for (const s of rt.servers) c.windows.add(s.windowState || "-");
  }
  c.owned = c.items - c.unassigned - c.orphaned - c.held;
  return c;
}

function findingsTable(doc) {
  const fs = Array.isArray(doc) ? doc : (doc.findings || []);
  if (fs.length === 0) return el("p", { id: "doctor-ok", class: "ok" }, "doctor: nothing needs a person");
  return table("doctor", ["severity", "check", "node", "detail", "fix"],
    fs.map(f => ({ cls: "sev-" + f.severity, cells: [f.severity.toUpperCase(), f.check, f.node, f.detail, f.fix] })));
}

async function overview() {
  const [st, doc, fac] = await Promise.all([getJSON("/api/status"), getJSON("/api/doctor"), getJSON("/api/factories")]);
  const stopped = fac.filter(f => f.State && f.State.stopped).length;
  const rows = st.taskTypes.map(tt => {
    const c = runtimeCounts(tt);
    return { cls: c.unassigned + c.held + c.orphaned > 0 ? "warn" : "", cells: [
      el("a", { href: "/tasktype/" + encodeURIComponent(tt.baseTaskType) }, tt.baseTaskType),
      c.servers, c.items, c.owned, c.unassigned, c.held, c.orphaned,
      tt.nextWindowStart ? "next opens " + fmtTime(tt.nextWindowStart) : "always open",
      [...c.windows].join(", ")] };
  });
  return el("section", {},
    el("h1", {}, "Overview"),
    el("p", {}, el("a", { href: "/new/taskType", id: "new-tasktype" }, "New task type"), " · ", el("a", { href: "/new/strategy" }, "New strategy")),
    table("tasktypes", ["task type", "servers live", "items", "owned", "unassigned", "held", "orphaned", "permit window", "window state"], rows),
    el("p", { id: "factory-count" }, `${fac.length} live factory process(es), ${stopped} stopped`),
    el("h2", {}, "Doctor"), findingsTable(doc));
}

// ---- task type

async function taskTypePage(name) {
  const [st, obj, sts] = await Promise.all([getJSON("/api/status"), getJSON("/api/get?kind=taskType&name=" + encodeURIComponent(name)).catch(e => ({ error: e.message })), getJSON("/api/strategies")]);
  const tt = st.taskTypes.find(t => t.baseTaskType === name);
  const mine = sts.filter(s => s.kind === "Schedule" && s.taskName.split("$")[0] === name);
  const parts = [el("h1", {}, "Task type " + name),
    el("p", {}, tt && tt.nextWindowStart ? "Permit window next opens " + fmtTime(tt.nextWindowStart) : "Permit window: always open"),
    el("p", { class: "actions" },
      el("a", { href: "/edit/taskType/" + encodeURIComponent(name), id: "edit-tasktype", class: "button" }, "Edit"), " ",
      button("Run now", "run-now", () => act("/api/run-now", { name: name }, "run-now " + name)), " ",
      button("Delete", "delete-tasktype", () => { if (confirm("Delete task type " + name + " and its runtimes?")) act("/api/delete", { kind: "taskType", name: name }, "delete " + name); }, { cls: "danger" }))];
  parts.push(el("h2", {}, "Strategies running it"), el("ul", { id: "tasktype-strategies" }, mine.map(s => el("li", {},
    `${s.strategyName}: ${s.sts}, ${s.currentNum} / ${s.requestNum} thread group(s) running / wanted `, stsButton(s)))));
  if (!tt) parts.push(el("p", { class: "error" }, "no such task type in the status"));
  for (const rt of (tt ? tt.runtimes : [])) parts.push(runtimeSection(rt));
  // After the reads above, so the list has what they saw.
  parts.push(eventsSection(await getJSON("/api/events?taskType=" + encodeURIComponent(name))));
  if (obj.doc) parts.push(el("h2", {}, "Configuration (version " + obj.version + ")"), el("pre", { id: "tasktype-doc" }, obj.doc));
  return el("section", {}, parts);
}

function runtimeSection(rt) {
  const holds = (rt.holds || []).map(h => el("li", { class: "hold" }, `HOLD: ${h.items} item(s) of vanished ${h.hostName || h.server} until ${fmtTime(h.until)}`));
  const servers = table("servers-" + rt.ownSign, ["", "server", "process", "host", "session", "heartbeat age", "items", "window", "next window", "statistics"],
    rt.servers.map(s => ({ cells: [s.leader ? "leader" : "", s.name, s.factory, s.hostName + "/" + s.ip, s.session,
      s.heartbeatAgeSec.toFixed(1) + " s", s.items, s.windowState, s.nextRunStartTime, s.dealInfoDesc] })));
  const items = table("items-" + rt.ownSign, ["item", "owner", "requested owner", "epoch", "parameter", "state"],
    rt.items.map(i => ({ cls: i.flag ? "flag-" + i.flag : "", cells: [i.id, i.ownerName || i.cur_server, i.requestedName || i.req_server, i.epoch, i.parameter,
      i.flag === "held" ? "HELD until " + fmtTime(i.heldUntil) : (i.flag || "owned").toUpperCase()] })));
  return el("section", { class: "runtime" },
    el("h2", {}, `Runtime ${rt.taskType} (ownSign ${rt.ownSign})`),
    el("p", {}, `${rt.servers.length} server(s), ${rt.items.length} item(s), ${rt.unassigned} unassigned, ${rt.held} held; items built by ${rt.mark.leaderName || rt.mark.leader || "-"} at ${fmtTime(rt.mark.builtAt)}`),
    el("ul", { class: "holds" }, holds), el("h3", {}, "Servers"), servers, el("h3", {}, "Items"), items);
}

// hhmm is a time's hour and minute (UTC), with the day when not today.
function hhmm(t) {
  const d = new Date(t), now = new Date();
  const s = d.toISOString();
  return (s.slice(0, 10) === now.toISOString().slice(0, 10) ? "" : s.slice(0, 10) + " ") + s.slice(11, 16) + " UTC";
}

// eventsSection lists what the console saw change in the tree, and the
// changes made through it, newest first.
function eventsSection(ev) {
  const note = ev.since
    ? `Changes this console saw since ${hhmm(ev.since)} (not the processes' own event history; see each process's /events). ` +
      "It looks while a page is open; a change it found after a time no page was open says between which times it happened."
    : "This console has not looked at this task type yet.";
  const rows = ev.events.map(e => ({ cls: e.source === "audit" ? "audit" : "", cells: [
    e.after ? `between ${fmtTime(e.after)} and ${fmtTime(e.at)}` : fmtTime(e.at),
    e.ownSign, e.source === "audit" ? "console change (audit)" : e.kind, e.text] }));
  return el("section", { id: "recent-events" },
    el("h2", {}, "Recent events"),
    el("p", { id: "events-note" }, note),
    ev.events.length === 0 ? el("p", { id: "events-none" }, "no changes seen yet")
      : el("div", { class: "events" }, table("events", ["seen", "ownSign", "what", "change"], rows)));
}

// ---- strategies

function stsButton(s) {
  return s.sts === "pause" ? button("Resume", "resume-" + s.strategyName, () => act("/api/resume", { name: s.strategyName }, "resume " + s.strategyName))
    : button("Pause", "pause-" + s.strategyName, () => act("/api/pause", { name: s.strategyName }, "pause " + s.strategyName));
}

async function strategiesPage() {
  const [sts, fac] = await Promise.all([getJSON("/api/strategies"), getJSON("/api/factories")]);
  const names = Object.fromEntries(fac.map(f => [f.uuid, f.name]));
  const rows = sts.map(s => {
    const failed = (s.registrations || []).filter(r => r.message).map(r => r.message);
    const dist = (s.registrations || []).map(r => `${names[r.uuid] || r.uuid}: ${r.currentNum}/${r.requestNum}`).join("; ");
    const paused = s.sts === "pause";
    return { cls: paused ? "paused" : (failed.length ? "warn" : ""), cells: [
      s.strategyName, s.kind, s.taskName, s.sts, `${s.currentNum} / ${s.requestNum}`, dist, failed.join("; "),
      el("span", {},
        el("a", { href: "/edit/strategy/" + encodeURIComponent(s.strategyName), class: "button", id: "edit-" + s.strategyName }, "Edit"), " ",
        stsButton(s), " ",
        button("Delete", "delete-" + s.strategyName, () => { if (confirm("Delete strategy " + s.strategyName + "?")) act("/api/delete", { kind: "strategy", name: s.strategyName }, "delete " + s.strategyName); }, { cls: "danger" }))] };
  });
  return el("section", {}, el("h1", {}, "Strategies"), el("p", {}, el("a", { href: "/new/strategy" }, "New strategy")),
    table("strategies", ["strategy", "kind", "task", "sts", "running / wanted", "distribution per factory (running/wanted)", "failed starts", ""], rows));
}

// ---- factories

// factoriesShell shows the factories page: the reason for a stop, kept
// across refreshes, above the live table.
function factoriesShell() {
  const table = el("div", { id: "factories-live" }, "Loading…");
  show(el("section", {}, el("h1", {}, "Factories"),
    el("p", {}, el("label", {}, "Reason for a stop or drain ", el("input", { id: "stop-reason", size: 40, placeholder: "recorded with the stop flag" }))),
    table));
  live(factoriesPage, table);
}

function stopReason(verb) {
  const v = document.getElementById("stop-reason").value.trim();
  return v || verb;
}

async function factoriesPage() {
  const fs = await getJSON("/api/factories");
  const rows = fs.map(f => {
    const st = f.State || {};
    const machine = f.ip + "$" + f.hostName;
    const fid = f.name.replace(/[^A-Za-z0-9_-]/g, "_");
    return { cls: st.stopped ? "paused" : "", cells: [f.name, f.hostName + "/" + f.ip, f.session,
      st.stopped ? `STOPPED by ${st.by || "-"} at ${fmtTime(st.at)}${st.reason ? " (" + st.reason + ")" : ""}` : "running",
      (f.registrations || []).map(r => `${r.strategyName} ${r.currentNum}/${r.requestNum}${r.message ? " " + r.message : ""}`).join("; "),
      el("span", {},
        st.stopped ? button("Start", "start-" + fid, () => act("/api/factory/start", { name: machine }, "start " + machine))
          : button("Stop", "stop-" + fid, () => act("/api/factory/stop", { name: machine, reason: stopReason("stop") }, "stop " + machine)), " ",
        button("Drain", "drain-" + fid, () => act("/api/factory/drain", { name: machine, reason: stopReason("drain") }, "drain " + machine)))] };
  });
  return table("factories", ["factory", "host", "session", "state", "registrations (running/wanted)", ""], rows);
}

// ---- tree

async function treePage() {
  const t = await getJSON("/api/tree");
  return el("section", {}, el("h1", {}, "Tree (read-only)"), el("pre", { id: "tree" }, t.tree));
}
