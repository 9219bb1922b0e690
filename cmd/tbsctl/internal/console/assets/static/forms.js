"use strict";
// The forms (edit and create a task type or strategy; export and import)
// and the router. Uses el, post, getJSON, flash, show, live from app.js.

function fieldInput(key, value) {
  const id = "f-" + key;
  if (Array.isArray(value)) return el("textarea", { id: id, "data-type": "array", rows: Math.max(2, Math.min(10, value.length + 1)) }, value.join("\n"));
  if (typeof value === "number") return el("input", { id: id, "data-type": "number", type: "number", step: "any", value: String(value) });
  if (typeof value === "boolean") return el("input", { id: id, "data-type": "boolean", type: "checkbox", checked: value });
  if (value !== null && typeof value === "object") return el("textarea", { id: id, "data-type": "json", rows: 4 }, JSON.stringify(value, null, 2));
  return el("input", { id: id, "data-type": "string", type: "text", value: value === null ? "" : String(value) });
}

// formDoc reads the form back into a document, each field in its type.
function formDoc(form, base) {
  const doc = {};
  for (const key of Object.keys(base)) {
    const input = form.querySelector("#f-" + CSS.escape(key));
    if (!input) continue;
    const v = input.value;
    switch (input.dataset.type) {
      case "array": doc[key] = v.split("\n").map(s => s.trim()).filter(s => s !== ""); break;
      case "number": doc[key] = v === "" ? 0 : Number(v); break;
      case "boolean": doc[key] = input.checked; break;
      case "json": doc[key] = v.trim() === "" ? null : JSON.parse(v); break;
      default: doc[key] = v;
    }
  }
  return doc;
}

async function editPage(kind, name) {
  const isNew = name === null;
  const obj = isNew ? await getJSON("/api/template?kind=" + encodeURIComponent(kind))
    : await getJSON("/api/get?kind=" + encodeURIComponent(kind) + "&name=" + encodeURIComponent(name));
  const base = JSON.parse(obj.doc);
  // sts is changed by pause and resume, never by a form: an edit keeps it.
  if (!isNew) delete base.sts;
  const nameKey = kind === "taskType" ? "baseTaskType" : "strategyName";
  const form = el("form", { id: "edit-form", novalidate: true },
    Object.keys(base).map(k => el("label", { class: "field" }, el("span", { text: k }), fieldInput(k, base[k]))));
  if (!isNew) form.querySelector("#f-" + nameKey).readOnly = true;
  const out = el("pre", { id: "diff" });
  const note = el("p", { id: "stale", class: "error", hidden: true });
  const body = () => ({ kind: kind, doc: JSON.stringify(formDoc(form, base)), version: obj.version });
  const preview = async () => {
    const d = await post("/api/preview", body());
    out.textContent = resultText(d) || "(no output)";
    out.className = d.ok ? "" : "error";
    note.textContent = d.stale || "";
    note.hidden = !d.stale;
  };
  const save = async () => {
    const d = await post("/api/save", body());
    out.textContent = (d.ok ? "saved\n" : "REFUSED: nothing was written\n") + resultText(d);
    out.className = d.ok ? "ok" : "error";
    if (d.ok) flash(kind + " saved", true);
  };
  show(el("section", {}, el("h1", {}, (isNew ? "New " : "Edit ") + kind + (isNew ? "" : " " + name)),
    el("p", {}, isNew ? "Fields start at the defaults." : `Loaded at version ${obj.version}; saving is refused if it changed since.`),
    form,
    el("p", { class: "actions" }, button("Preview changes", "preview", preview), " ", button("Save", "save", save)),
    note, el("h2", {}, "Changes (tbsctl apply --dry-run)"), out));
}

function transferPage() {
  const data = el("textarea", { id: "import-data", rows: 10, placeholder: "paste an export (ours, or the Java console's), or choose a file" });
  const file = el("input", { type: "file", id: "import-file", on: { change: async (e) => { const f = e.target.files[0]; if (f) data.value = await f.text(); } } });
  const format = el("select", { id: "import-format" }, ["auto", "ours", "java"].map(f => el("option", { value: f }, f)));
  const zone = el("input", { id: "import-zone", placeholder: "Asia/Shanghai (Java crons only)" });
  const box = (id, label, on) => el("label", { class: "check" }, el("input", { type: "checkbox", id: id, checked: on }), " " + label);
  const report = el("pre", { id: "import-report" });
  const run = async () => {
    const q = (id) => document.getElementById(id).checked;
    const d = await post("/api/import", { doc: data.value, format: format.value, timeZone: zone.value.trim(), dryRun: q("import-dry"), force: q("import-force"), partial: q("import-partial") });
    report.textContent = (d.ok ? "" : "REFUSED or incomplete:\n") + resultText(d);
    report.className = d.ok ? "ok" : "error";
  };
  show(el("section", {}, el("h1", {}, "Export and import"),
    el("h2", {}, "Export"),
    el("p", {}, el("a", { href: "/api/export?format=ours", id: "export-ours", download: "" }, "Our format (JSON)"), " · ",
      el("a", { href: "/api/export?format=java", id: "export-java", download: "" }, "The Java console's format")),
    el("h2", {}, "Import"), el("p", {}, file), data,
    el("p", {}, el("label", {}, "Format ", format), " ", el("label", {}, "Time zone ", zone)),
    el("p", {}, box("import-dry", "dry run (write nothing)", true), box("import-force", "overwrite objects that differ", false), box("import-partial", "write the valid objects even if some are skipped", false)),
    el("p", {}, button("Import", "import", run)), el("h3", {}, "Report, object by object"), report));
}

async function start() {
  me = await getJSON("/api/me");
  document.getElementById("root").textContent = me.root;
  document.getElementById("whoami").textContent = `${me.user} (${me.role})`;
  document.getElementById("logout").addEventListener("click", async () => { await post("/logout", {}); location.href = "/login"; });
  const p = location.pathname.split("/").map(decodeURIComponent);
  switch (p[1]) {
    case "": live(overview); break;
    case "tasktype": live(() => taskTypePage(p[2])); break;
    case "strategies": live(strategiesPage); break;
    case "factories": factoriesShell(); break;
    case "tree": live(treePage); break;
    case "edit": await editPage(p[2], p[3]); break;
    case "new": await editPage(p[2], null); break;
    case "transfer": transferPage(); break;
    default: show(el("p", { class: "error" }, "no such page"));
  }
}

start().catch(e => flash("console: " + e.message, false));
