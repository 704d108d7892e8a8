/* /admin: users, API keys and wall display tokens, the audit log and grid workers, all through /api/v1.
 *
 * The layout (layouts/admin.py) renders the frame and the texts (data-config); this script fills the tab that is
 * open and acts through the documented endpoints, so the API's rules (roles, a community admin's jurisdiction,
 * sessions ending on a change, the audit row) are the page's. A secret (a new password, a key, a display token)
 * is shown once, in the result box, and never again. */
(function () {
  "use strict";
  var ROLES = ["admin", "dispatcher", "leader", "worker", "integration", "display"];
  var KEY_ROLES = ["display", "integration", "worker", "dispatcher", "leader"];
  var PAGE = 50;
  var A = { cfg: null, communities: [], audit: { offset: 0, total: 0 }, workers: { page: 1, total: 0 } };

  function el(tag, attrs, children) { return GCDom.el(tag, attrs, children); }

  function tx(key, params) {
    var s = (A.cfg.texts || {})[key];
    if (s === undefined) { return ""; }
    Object.keys(params || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(params[k])); });
    return s;
  }

  function message(text, kind) {
    var m = document.getElementById("admin-message");
    m.textContent = text || "";
    m.className = "console-message " + (kind || "ok");
  }

  function fieldName(field) { return (field && tx("admin.field." + field)) || field || ""; }

  // what a refusal means, in the page's language (the API's own sentence goes to the tooltip)
  function refusal(status, err) {
    var key = { 400: "admin.err.input", 401: "admin.err.signed_out", 403: "admin.err.forbidden",
                404: "admin.err.not_found", 409: "admin.err.taken", 422: "admin.err.input",
                429: "admin.err.slow" }[status] || "admin.err.server";
    return tx(key, { field: fieldName(err && err.field) });
  }

  function api(method, url, body) {
    var init = { method: method, credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var e = new Error(refusal(r.status, data.error));
          e.status = r.status; e.detail = (data.error && data.error.message) || "";
          throw e;
        }
        return data;
      });
    });
  }

  function fail(e) {
    message(e.message || tx("admin.err.server"), "error");
    document.getElementById("admin-message").title = e.detail || "";
  }

  function when(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(A.cfg.lang === "en" ? "en-GB" : "zh-CN", { hour12: false });
  }

  function roleName(role) { return tx("role." + role) || role; }

  function actionName(action) { return tx("admin.action." + action) || action; }

  function communityName(id) {
    if (id === null || id === undefined) { return tx("admin.scope.street"); }
    var c = A.communities.filter(function (x) { return x.id === id; })[0];
    return c ? c.name : String(id);
  }

  // a strong random password for a new account or a reset (the server still checks it)
  function newPassword() {
    var abc = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    var out = "", bytes = new Uint8Array(14);
    window.crypto.getRandomValues(bytes);
    bytes.forEach(function (b) { out += abc[b % abc.length]; });
    return out;
  }

  function select(id, options, value, attrs) {
    var s = el("select", Object.assign({ id: id }, attrs || {}), options.map(function (o) {
      var opt = el("option", { value: o[0], text: o[1] });
      if (String(o[0]) === String(value)) { opt.selected = true; }
      return opt;
    }));
    return s;
  }

  function communityOptions() {
    var own = A.cfg.community_id;
    var list = own === null || own === undefined ? [["", tx("admin.scope.street")]] : [];
    A.communities.forEach(function (c) { if (own === null || own === undefined || c.id === own) { list.push([c.id, c.name]); } });
    return list;
  }

  function input(id, label, attrs) {
    return el("label", { cls: "admin-field" }, [label, el("input", Object.assign({ id: id }, attrs || {}))]);
  }

  function table(headKeys, rows, id) {
    return el("table", { cls: "admin-table", id: id }, [
      el("thead", {}, [el("tr", {}, headKeys.map(function (k) { return el("th", { text: tx(k) }); }))]),
      el("tbody", {}, rows.length ? rows : [el("tr", {}, [el("td", { colspan: String(headKeys.length),
                                                                    cls: "admin-empty", text: tx("admin.empty") })])])
    ]);
  }

  function button(text, attrs, onclick) {
    var b = el("button", Object.assign({ type: "button", cls: "console-btn small" }, attrs || {}), [text]);
    b.addEventListener("click", onclick);
    return b;
  }

  // the box where a secret is shown once
  function secretBox(id, title, lines, svg) {
    var box = el("div", { cls: "admin-secret", id: id, role: "status" }, [el("h3", { text: title }),
      el("p", { cls: "admin-once", text: tx("admin.shown_once") })]);
    lines.forEach(function (l) {
      box.appendChild(el("div", { cls: "admin-secret-line" }, [el("span", { cls: "console-label", text: l[0] }),
        el("code", { cls: "admin-secret-value", "data-secret": l[2] || "", text: l[1] })]));
    });
    if (svg) {  // made by this server (segno), not user text
      var qr = el("div", { cls: "admin-qr", id: id + "-qr" });
      qr.innerHTML = svg;
      box.appendChild(qr);
    }
    return box;
  }

  // -- users ---------------------------------------------------------------------------------
  function loadUsers() {
    var pane = document.getElementById("admin-pane-users");
    return api("GET", "/api/v1/users").then(function (data) {
      pane.replaceChildren(usersForm(), el("div", { id: "admin-user-secret" }), usersTable(data.users));
    }).catch(fail);
  }

  function usersForm() {
    var form = el("form", { cls: "admin-form", id: "admin-user-form" }, [
      el("h2", { text: tx("admin.users.new") }),
      input("admin-user-username", tx("admin.field.username"), { required: "required", maxlength: "64" }),
      input("admin-user-display", tx("admin.field.display_name"), { maxlength: "64" }),
      el("label", { cls: "admin-field" }, [tx("admin.field.role"),
        select("admin-user-role", ROLES.map(function (r) { return [r, roleName(r)]; }), "dispatcher")]),
      el("label", { cls: "admin-field" }, [tx("admin.field.community_id"),
        select("admin-user-community", communityOptions(), A.cfg.community_id || "")]),
      el("button", { type: "submit", cls: "console-btn", id: "admin-user-create" }, [tx("admin.users.create")])
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var password = newPassword(), comm = document.getElementById("admin-user-community").value;
      var body = { username: document.getElementById("admin-user-username").value.trim(),
                   display_name: document.getElementById("admin-user-display").value.trim(),
                   role: document.getElementById("admin-user-role").value, password: password,
                   community_id: comm ? parseInt(comm, 10) : null };
      if (!body.display_name) { delete body.display_name; }
      api("POST", "/api/v1/users", body).then(function (u) {
        message(tx("admin.users.created", { name: u.username }), "ok");
        return loadUsers().then(function () {
          document.getElementById("admin-user-secret").replaceChildren(secretBox("admin-user-password",
            tx("admin.users.password_for", { name: u.username }), [[tx("admin.field.password"), password, "password"]]));
        });
      }).catch(fail);
    });
    return form;
  }

  function patchUser(u, body, done) {
    return api("PATCH", "/api/v1/users/" + u.id, body).then(function (out) {
      message(done || tx("admin.users.saved", { name: out.username }), "ok");
      return out;
    });
  }

  function usersTable(users) {
    var rows = users.map(function (u) {
      var role = select("admin-user-role-" + u.id, ROLES.map(function (r) { return [r, roleName(r)]; }), u.role,
                        { "aria-label": tx("admin.field.role") });
      role.addEventListener("change", function () { patchUser(u, { role: role.value }).then(loadUsers).catch(fail); });
      var comm = select("admin-user-community-" + u.id, communityOptions(), u.community_id === null ? "" : u.community_id,
                        { "aria-label": tx("admin.field.community_id") });
      comm.addEventListener("change", function () {
        patchUser(u, { community_id: comm.value ? parseInt(comm.value, 10) : null }).then(loadUsers).catch(fail);
      });
      var state = u.active ? (u.must_change_password ? tx("admin.users.must_change") : tx("admin.state.active"))
        : tx("admin.state.disabled");
      return el("tr", { "data-user": u.username }, [
        el("td", { text: u.username }), el("td", { text: u.display_name || "" }), el("td", {}, [role]),
        el("td", {}, [comm]), el("td", { cls: u.active ? "" : "admin-off", text: state }),
        el("td", { cls: "admin-actions" }, [
          button(tx("admin.users.reset"), { "data-action": "reset" }, function () {
            var password = newPassword();
            patchUser(u, { password: password }, tx("admin.users.reset_done", { name: u.username })).then(function () {
              document.getElementById("admin-user-secret").replaceChildren(secretBox("admin-user-password",
                tx("admin.users.password_for", { name: u.username }), [[tx("admin.field.password"), password, "password"]]));
            }).catch(fail);
          }),
          button(u.active ? tx("admin.users.disable") : tx("admin.users.enable"),
                 { "data-action": u.active ? "disable" : "enable" }, function () {
            patchUser(u, { active: !u.active }).then(loadUsers).catch(fail);
          })
        ])
      ]);
    });
    return table(["admin.field.username", "admin.field.display_name", "admin.field.role", "admin.field.community_id",
                  "admin.field.state", "admin.field.actions"], rows, "admin-users-table");
  }

  // -- API keys and display tokens -------------------------------------------------------------
  function loadKeys() {
    var pane = document.getElementById("admin-pane-keys");
    return api("GET", "/api/v1/api-keys").then(function (data) {
      pane.replaceChildren(keysForm(), el("div", { id: "admin-key-secret" }), keysTable(data.keys));
    }).catch(fail);
  }

  function keysForm() {
    var role = select("admin-key-role", KEY_ROLES.map(function (r) { return [r, roleName(r)]; }), "display");
    var worker = input("admin-key-worker", tx("admin.field.worker_id"), { type: "number", min: "1" });
    worker.hidden = true;
    role.addEventListener("change", function () { worker.hidden = role.value !== "worker"; });
    var form = el("form", { cls: "admin-form", id: "admin-key-form" }, [
      el("h2", { text: tx("admin.keys.new") }),
      input("admin-key-name", tx("admin.field.name"), { required: "required", maxlength: "100" }),
      el("label", { cls: "admin-field" }, [tx("admin.field.role"), role]),
      el("label", { cls: "admin-field" }, [tx("admin.field.community_id"),
        select("admin-key-community", communityOptions(), A.cfg.community_id || "")]),
      worker,
      el("button", { type: "submit", cls: "console-btn", id: "admin-key-create" }, [tx("admin.keys.create")])
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var comm = document.getElementById("admin-key-community").value;
      var body = { name: document.getElementById("admin-key-name").value.trim(), role: role.value,
                   community_id: comm ? parseInt(comm, 10) : null };
      var wid = document.getElementById("admin-key-worker").value;
      if (role.value === "worker" && wid) { body.worker_id = parseInt(wid, 10); }
      api("POST", "/api/v1/api-keys", body).then(function (k) {
        message(tx("admin.keys.created", { name: k.name }), "ok");
        return loadKeys().then(function () {
          var lines = [[tx("admin.keys.key"), k.key, "key"]];
          if (k.kiosk_url) { lines.push([tx("admin.keys.kiosk_url"), k.kiosk_url, "kiosk"]); }
          document.getElementById("admin-key-secret").replaceChildren(secretBox("admin-key-shown",
            tx("admin.keys.shown_title", { name: k.name }), lines, k.qr_svg));
        });
      }).catch(fail);
    });
    return form;
  }

  function keysTable(keys) {
    var rows = keys.slice().reverse().map(function (k) {
      var revoked = !!k.revoked_at;
      return el("tr", { "data-key": k.name, cls: revoked ? "admin-off" : "" }, [
        el("td", { text: k.name }), el("td", { text: roleName(k.role) }), el("td", { text: k.prefix + "…" }),
        el("td", { text: communityName(k.community_id) }), el("td", { text: when(k.created_at) }),
        el("td", { text: k.last_used_at ? when(k.last_used_at) : tx("admin.keys.never") }),
        el("td", { text: revoked ? tx("admin.keys.revoked_at", { at: when(k.revoked_at) }) : tx("admin.state.active") }),
        el("td", { cls: "admin-actions" }, [revoked ? null : button(tx("admin.keys.revoke"), { "data-action": "revoke" },
          function () {
            api("DELETE", "/api/v1/api-keys/" + k.id).then(function () {
              message(tx("admin.keys.revoked", { name: k.name }), "ok");
              loadKeys();
            }).catch(fail);
          })])
      ]);
    });
    return table(["admin.field.name", "admin.field.role", "admin.keys.prefix", "admin.field.community_id",
                  "admin.keys.created_at", "admin.keys.last_used", "admin.field.state", "admin.field.actions"],
                 rows, "admin-keys-table");
  }

  // -- audit log ------------------------------------------------------------------------------
  function auditQuery(limit, offset) {
    var q = ["limit=" + limit, "offset=" + offset];
    var action = document.getElementById("admin-audit-action").value;
    if (action) { q.push("action=" + encodeURIComponent(action)); }
    ["actor", "target"].forEach(function (n) {
      var v = document.getElementById("admin-audit-" + n).value.trim();
      if (v) { q.push(n + "=" + encodeURIComponent(v)); }
    });
    ["since", "until"].forEach(function (n) {
      var v = document.getElementById("admin-audit-" + n).value;
      if (v) { q.push(n + "=" + encodeURIComponent(new Date(v).toISOString())); }
    });
    return "/api/v1/audit?" + q.join("&");
  }

  function auditFrame() {
    var pane = document.getElementById("admin-pane-audit");
    if (document.getElementById("admin-audit-form")) { return; }
    var form = el("form", { cls: "admin-form", id: "admin-audit-form" }, [
      el("label", { cls: "admin-field" }, [tx("admin.audit.action"), select("admin-audit-action",
        [["", tx("admin.audit.all")]].concat(Object.keys(A.cfg.texts).filter(function (k) {
          return k.indexOf("admin.action.") === 0;
        }).map(function (k) { return [k.slice(13), A.cfg.texts[k]]; })), "")]),
      input("admin-audit-actor", tx("admin.audit.actor")),
      input("admin-audit-target", tx("admin.audit.target"), { placeholder: "user:3" }),
      input("admin-audit-since", tx("admin.audit.since"), { type: "datetime-local" }),
      input("admin-audit-until", tx("admin.audit.until"), { type: "datetime-local" }),
      el("button", { type: "submit", cls: "console-btn", id: "admin-audit-search" }, [tx("admin.audit.search")]),
      button(tx("admin.audit.export"), { id: "admin-audit-export" }, exportAudit)
    ]);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); A.audit.offset = 0; loadAudit(); });
    var pager = el("div", { cls: "admin-pager", id: "admin-audit-pager" }, [
      button(tx("admin.prev"), { id: "admin-audit-prev" }, function () {
        A.audit.offset = Math.max(0, A.audit.offset - PAGE); loadAudit();
      }),
      el("span", { id: "admin-audit-range" }),
      button(tx("admin.next"), { id: "admin-audit-next" }, function () {
        if (A.audit.offset + PAGE < A.audit.total) { A.audit.offset += PAGE; loadAudit(); }
      })
    ]);
    pane.replaceChildren(form, pager, el("div", { id: "admin-audit-list" }));
  }

  function detailText(d) {
    if (d === null || d === undefined) { return ""; }
    return typeof d === "string" ? d : JSON.stringify(d);
  }

  function loadAudit() {
    auditFrame();
    return api("GET", auditQuery(PAGE, A.audit.offset)).then(function (data) {
      A.audit.total = data.total;
      var rows = data.entries.map(function (r) {
        return el("tr", { "data-action": r.action }, [el("td", { text: when(r.at) }), el("td", { text: r.actor }),
          el("td", { text: roleName(r.role) }), el("td", { text: actionName(r.action) }),
          el("td", { text: r.target || "" }),
          el("td", { cls: "admin-detail", text: detailText(r.detail) }), el("td", { text: r.ip || "" })]);
      });
      document.getElementById("admin-audit-list").replaceChildren(table(["admin.audit.at", "admin.audit.actor",
        "admin.field.role", "admin.audit.action", "admin.audit.target", "admin.audit.detail", "admin.audit.ip"], rows,
        "admin-audit-table"));
      document.getElementById("admin-audit-range").textContent = data.total ? tx("admin.range", {
        from: data.offset + 1, to: data.offset + data.entries.length, total: data.total }) : "";
      document.getElementById("admin-audit-prev").disabled = data.offset === 0;
      document.getElementById("admin-audit-next").disabled = data.offset + PAGE >= data.total;
    }).catch(fail);
  }

  function csvCell(v) { return GCDom.csvCell(v); }  // a spreadsheet must not run a formula from a log row

  // every row the filter matches (1,000 a request, at most 20,000), as a CSV file with headers in the page's language
  function exportAudit() {
    var got = [], MAX = 20000;
    function more(offset) {
      return api("GET", auditQuery(1000, offset)).then(function (data) {
        got = got.concat(data.entries);
        if (data.entries.length && got.length < Math.min(data.total, MAX)) { return more(offset + 1000); }
        return got;
      });
    }
    message(tx("admin.audit.exporting"), "ok");
    more(0).then(function (rows) {
      var head = ["admin.audit.at", "admin.audit.actor", "admin.field.role", "admin.audit.action", "admin.audit.target",
                  "admin.audit.detail", "admin.audit.ip"].map(function (k) { return csvCell(tx(k)); }).join(",");
      var lines = rows.map(function (r) {
        return [r.at, r.actor, roleName(r.role), actionName(r.action), r.target, detailText(r.detail), r.ip]
          .map(csvCell).join(",");
      });
      var blob = new Blob(["\ufeff" + [head].concat(lines).join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
      var a = el("a", { href: URL.createObjectURL(blob), download: "audit.csv", id: "admin-audit-file" });
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      message(tx("admin.audit.exported", { n: rows.length }), "ok");
    }).catch(fail);
  }

  // -- workers -------------------------------------------------------------------------------
  function workersFrame() {
    var pane = document.getElementById("admin-pane-workers");
    if (document.getElementById("admin-worker-form")) { return; }
    var form = el("form", { cls: "admin-form", id: "admin-worker-form" }, [
      input("admin-worker-q", tx("admin.workers.search"), { type: "search" }),
      input("admin-worker-grid", tx("admin.field.grid")),
      el("button", { type: "submit", cls: "console-btn", id: "admin-worker-search" }, [tx("admin.audit.search")])
    ]);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); A.workers.page = 1; loadWorkers(); });
    var pager = el("div", { cls: "admin-pager" }, [
      button(tx("admin.prev"), { id: "admin-worker-prev" }, function () {
        A.workers.page = Math.max(1, A.workers.page - 1); loadWorkers();
      }),
      el("span", { id: "admin-worker-range" }),
      button(tx("admin.next"), { id: "admin-worker-next" }, function () {
        if (A.workers.page * PAGE < A.workers.total) { A.workers.page += 1; loadWorkers(); }
      })
    ]);
    pane.replaceChildren(form, importPanel("worker", ".csv,.xlsx", "admin.workers.import_hint"),
                         el("div", { id: "admin-worker-secret" }), el("div", { id: "admin-worker-edit" }), pager,
                         el("div", { id: "admin-worker-list" }));
  }

  // -- uploads with a preview --------------------------------------------------------------------
  // XMLHttpRequest, not fetch: its upload reports progress, which a large file needs
  function upload(url, file, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest(), body = new FormData();
      body.append("file", file);
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      if (window.GCCsrf) { xhr.setRequestHeader("X-CSRF-Token", window.GCCsrf.token()); }
      xhr.upload.onprogress = function (ev) { if (ev.lengthComputable) { onProgress(ev.loaded / ev.total); } };
      xhr.onload = function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch { data = {}; }
        onProgress(1);
        if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
        var e = new Error(refusal(xhr.status, data.error));
        e.status = xhr.status; e.detail = (data.error && data.error.message) || ""; e.data = data;
        reject(e);
      };
      xhr.onerror = function () { reject(new Error(tx("admin.err.server"))); };
      xhr.send(body);
    });
  }

  function importPanel(kind, accept, hintKey) {
    var id = "admin-" + kind + "-import";
    var file = el("input", { id: id + "-file", type: "file", accept: accept });
    var bar = el("progress", { id: id + "-progress", max: "1", value: "0", hidden: "hidden" });
    var apply = el("button", { type: "button", cls: "console-btn", id: id + "-apply", disabled: "disabled" },
                   [tx("admin.import.apply")]);
    var out = el("div", { id: id + "-preview", cls: "admin-preview" });
    function run(dry) {
      var f = file.files[0];
      if (!f) { message(tx("admin.import.pick"), "error"); return; }
      bar.hidden = false; bar.value = 0;
      apply.disabled = true;
      message(dry ? tx("admin.import.checking") : tx("admin.import.writing"), "ok");
      var url = "/api/v1/" + (kind === "worker" ? "workers" : "grids") + "/import" + (dry ? "?dry_run=1" : "");
      upload(url, f, function (p) { bar.value = p; }).then(function (data) {
        (kind === "worker" ? showWorkerPlan : showGridPlan)(out, data, dry);
        var ok = kind === "worker" ? !data.counts.error : true;
        apply.disabled = !(dry && ok);
        message(dry ? (ok ? tx("admin.import.checked") : tx("admin.import.has_errors", { n: data.counts.error }))
          : tx("admin.import.done"), ok ? "ok" : "error");
        if (!dry && kind === "worker") { loadWorkers(); }
      }).catch(function (e) {
        if (e.data && e.data.rows) { showWorkerPlan(out, e.data, dry); }
        fail(e);
      });
    }
    file.addEventListener("change", function () { apply.disabled = true; out.replaceChildren(); });
    apply.addEventListener("click", function () { run(false); });
    return el("details", { cls: "admin-import", id: id }, [
      el("summary", { text: tx("admin." + kind + "s.import") }),
      el("p", { cls: "admin-hint", text: tx(hintKey) }),
      el("div", { cls: "admin-form" }, [file, button(tx("admin.import.preview"), { id: id + "-check" }, function () { run(true); }),
                                       apply, bar]),
      out]);
  }

  function change(v) { return v === null || v === undefined || v === "" ? "—" : String(v); }

  function showWorkerPlan(out, data, dry) {
    var c = data.counts;
    var head = el("p", { cls: "admin-counts", id: "admin-worker-import-counts", text: tx("admin.import.counts", {
      create: c.create, update: c.update, unchanged: c.unchanged, error: c.error }) });
    // errors first, then what changes; rows that stay as they are only counted
    var shown = data.rows.filter(function (r) { return r.action !== "unchanged"; })
      .sort(function (a, b) { return (a.errors.length ? 0 : 1) - (b.errors.length ? 0 : 1) || a.line - b.line; });
    var rows = shown.slice(0, 500).map(function (r) {
      var what = r.errors.length ? r.errors.map(function (e) {
        return fieldName(e.field) + ": " + (tx("admin.import.err." + e.code) || e.message);
      }).join("; ")
        : Object.keys(r.changes).map(function (k) {
          return fieldName(k) + " " + change(r.changes[k][0]) + " → " + change(r.changes[k][1]);
        }).join("; ");
      return el("tr", { "data-line": String(r.line), cls: r.errors.length ? "admin-row-error" : "" }, [
        el("td", { text: String(r.line) }), el("td", { text: r.code }),
        el("td", { text: tx("admin.import.action." + r.action) }), el("td", { cls: "admin-detail", text: what })]);
    });
    var hidden = c.create + c.update + c.error - Math.min(shown.length, 500);  // the answer lists errors and ≤ 500 changes
    var more = hidden > 0 ? el("p", { cls: "admin-hint", text: tx("admin.import.more", { n: hidden }) }) : null;
    out.replaceChildren(head, table(["admin.import.line", "admin.workers.code", "admin.import.what",
                                     "admin.import.changes"], rows, "admin-worker-import-table"));
    if (more) { out.appendChild(more); }
    out.setAttribute("data-dry-run", dry ? "1" : "0");
  }

  function editWorker(w) {
    var box = document.getElementById("admin-worker-edit"), id = "admin-wedit-";
    var shift = select(id + "shift", ["day", "evening", "night"].map(function (v) { return [v, tx("admin.shift." + v)]; }),
                       w.shift || "day");
    var active = el("input", { id: id + "active", type: "checkbox" });
    active.checked = !!w.active;
    var form = el("form", { cls: "admin-form admin-edit", id: "admin-worker-edit-form", "data-worker": w.code }, [
      el("h2", { text: tx("admin.workers.edit_title", { code: w.code }) }),
      input(id + "name", tx("admin.field.name"), { placeholder: w.name || "" }),
      input(id + "phone", tx("admin.workers.phone"), { placeholder: w.phone || "" }),
      input(id + "service-phone", tx("admin.workers.service_phone"), { value: w.service_phone || "",
                                                                       placeholder: tx("admin.workers.service_phone_ph") }),
      input(id + "device", tx("admin.workers.device"), { value: w.device_id || "" }),
      input(id + "grid", tx("admin.field.grid"), { value: w.grid_code || "" }),
      el("label", { cls: "admin-field" }, [tx("admin.workers.shift"), shift]),
      el("label", { cls: "admin-field admin-check" }, [active, tx("admin.field.active")]),
      el("button", { type: "submit", cls: "console-btn", id: "admin-worker-save" }, [tx("admin.save")]),
      button(tx("admin.cancel"), {}, function () { box.replaceChildren(); })
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      // name and phone are shown masked: only what the admin typed replaces them
      var body = {}, v = function (n) { return document.getElementById(id + n).value.trim(); };
      if (v("name")) { body.name = v("name"); }
      if (v("phone")) { body.phone = v("phone"); }
      // the public service number is shown whole (residents dial it): emptying it falls back to the center's number
      if (v("service-phone") !== (w.service_phone || "")) { body.service_phone = v("service-phone") || null; }
      if (v("device") !== (w.device_id || "")) { body.device_id = v("device") || null; }
      if (v("grid") !== (w.grid_code || "")) { body.grid_code = v("grid"); }
      if (shift.value !== (w.shift || "day")) { body.shift = shift.value; }
      if (active.checked !== !!w.active) { body.active = active.checked; }
      if (!Object.keys(body).length) { message(tx("admin.unchanged"), "ok"); return; }
      api("PATCH", "/api/v1/workers/" + w.id, body).then(function () {
        message(tx("admin.workers.saved", { code: w.code }), "ok");
        box.replaceChildren();
        loadWorkers();
      }).catch(fail);
    });
    box.replaceChildren(form);
  }

  function loadWorkers() {
    workersFrame();
    var q = ["page=" + A.workers.page, "page_size=" + PAGE];
    var text = document.getElementById("admin-worker-q").value.trim();
    var grid = document.getElementById("admin-worker-grid").value.trim();
    if (text) { q.push("q=" + encodeURIComponent(text)); }
    if (grid) { q.push("grid=" + encodeURIComponent(grid)); }
    return api("GET", "/api/v1/workers?" + q.join("&")).then(function (data) {
      A.workers.total = data.total;
      var rows = data.items.map(function (w) {
        var token = w.has_device ? button(tx("admin.workers.token_new"), { "data-action": "token" }, function () {
          api("POST", "/api/v1/workers/" + w.id + "/device-token", {}).then(function (out) {
            var secret = out.token;
            message(tx("admin.workers.token_done", { code: w.code }), "ok");
            document.getElementById("admin-worker-secret").replaceChildren(secretBox("admin-worker-token",
              tx("admin.workers.token_for", { code: w.code }), [[tx("admin.workers.token"), secret, "token"]]));
            loadWorkers();
          }).catch(fail);
        }) : null;
        return el("tr", { "data-worker": w.code }, [el("td", { text: w.code }), el("td", { text: w.name || "" }),
          el("td", { text: w.grid_code || "" }), el("td", { text: communityName(w.community_id) }),
          el("td", { text: w.phone || "" }), el("td", { text: w.device_id || "" }),
          el("td", { text: w.device_token_set ? tx("admin.workers.token_set") : "—" }),
          el("td", { text: w.active ? tx("admin.state.active") : tx("admin.state.disabled") }),
          el("td", { cls: "admin-actions" }, [button(tx("admin.edit"), { "data-action": "edit" }, function () {
            editWorker(w);
          }), token])]);
      });
      document.getElementById("admin-worker-list").replaceChildren(table(["admin.workers.code", "admin.field.name",
        "admin.field.grid", "admin.field.community_id", "admin.workers.phone", "admin.workers.device",
        "admin.workers.token", "admin.field.state", "admin.field.actions"], rows, "admin-workers-table"));
      var from = (data.page - 1) * data.page_size;
      document.getElementById("admin-worker-range").textContent = data.total ? tx("admin.range", {
        from: from + 1, to: from + data.items.length, total: data.total }) : "";
      document.getElementById("admin-worker-prev").disabled = data.page <= 1;
      document.getElementById("admin-worker-next").disabled = from + data.items.length >= data.total;
    }).catch(fail);
  }

  // -- cameras and access-control devices ----------------------------------------------------------
  function loadDevices() {
    var pane = document.getElementById("admin-pane-devices");
    return Promise.all([api("GET", "/api/v1/cameras"), api("GET", "/api/v1/devices")]).then(function (got) {
      var cams = got[0].cameras.map(function (c) {
        var id = "admin-cam-" + c.id;
        var name = el("input", { id: id + "-name", value: c.name, maxlength: "128", "aria-label": tx("admin.field.name") });
        var url = el("input", { id: id + "-url", type: "password", autocomplete: "off", cls: "admin-url",
                                placeholder: tx("admin.devices.url_hint"), "aria-label": tx("admin.devices.stream_url") });
        return el("tr", { "data-camera": c.code }, [el("td", { text: c.code }), el("td", {}, [name]), el("td", {}, [url]),
          el("td", { text: c.online ? tx("admin.devices.online") : tx("admin.devices.offline") }),
          el("td", { cls: "admin-actions" }, [button(tx("admin.save"), { "data-action": "save" }, function () {
            var body = {};
            if (name.value.trim() !== c.name) { body.name = name.value.trim(); }
            if (url.value.trim()) { body.stream_url = url.value.trim(); }
            if (!Object.keys(body).length) { message(tx("admin.unchanged"), "ok"); return; }
            api("PATCH", "/api/v1/cameras/" + c.id, body).then(function () {
              message(tx("admin.devices.camera_saved", { code: c.code }), "ok");
              loadDevices();
            }).catch(fail);
          })])]);
      });
      var devs = got[1].devices.map(function (d) {
        var id = "admin-dev-" + d.id;
        var name = el("input", { id: id + "-name", value: d.name, maxlength: "128", "aria-label": tx("admin.field.name") });
        return el("tr", { "data-device": d.device_id }, [el("td", { text: d.device_id }), el("td", {}, [name]),
          el("td", { text: tx("admin.devices.kind." + d.kind) || d.kind }), el("td", { text: communityName(d.community_id) }),
          el("td", { text: d.online ? tx("admin.devices.online") : tx("admin.devices.offline") }),
          el("td", { text: when(d.last_seen_at) }),
          el("td", { cls: "admin-actions" }, [
            button(tx("admin.save"), { "data-action": "save" }, function () {
              if (name.value.trim() === d.name) { message(tx("admin.unchanged"), "ok"); return; }
              api("PATCH", "/api/v1/devices/" + d.id, { name: name.value.trim() }).then(function () {
                message(tx("admin.devices.device_saved", { code: d.device_id }), "ok");
                loadDevices();
              }).catch(fail);
            }),
            button(tx("admin.devices.rotate"), { "data-action": "rotate" }, function () {
              api("POST", "/api/v1/devices/" + d.id + "/secret").then(function (out) {
                message(tx("admin.devices.rotated", { code: d.device_id }), "ok");
                document.getElementById("admin-device-secret").replaceChildren(secretBox("admin-device-shown",
                  tx("admin.devices.secret_for", { code: d.device_id }), [[tx("admin.devices.secret"), out.secret, "secret"]]));
              }).catch(fail);
            })])]);
      });
      pane.replaceChildren(
        el("h2", { cls: "admin-h2", text: tx("admin.devices.cameras") }),
        el("p", { cls: "admin-hint", text: tx("admin.devices.camera_hint") }),
        table(["admin.workers.code", "admin.field.name", "admin.devices.stream_url", "admin.field.state",
               "admin.field.actions"], cams, "admin-cameras-table"),
        el("h2", { cls: "admin-h2", text: tx("admin.devices.access") }),
        el("p", { cls: "admin-hint", text: tx("admin.devices.access_hint") }),
        el("div", { id: "admin-device-secret" }),
        table(["admin.devices.device_id", "admin.field.name", "admin.devices.kind", "admin.field.community_id",
               "admin.field.state", "admin.devices.last_seen", "admin.field.actions"], devs, "admin-devices-table"));
    }).catch(fail);
  }

  // -- grids -----------------------------------------------------------------------------------
  // a file's grids drawn over today's before anything is replaced (an SVG in lon/lat: no tiles, no outside request)
  function loadGrids() {
    var pane = document.getElementById("admin-pane-grids");
    if (A.cfg.community_id !== null && A.cfg.community_id !== undefined) {
      pane.replaceChildren(el("p", { cls: "admin-hint", id: "admin-grids-street-only", text: tx("admin.grids.street_only") }));
      return Promise.resolve();
    }
    return api("GET", "/api/v1/grids").then(function (fc) {
      A.grids = fc;
      pane.replaceChildren(el("p", { cls: "admin-hint", text: tx("admin.grids.now", { n: fc.features.length }) }),
                           importPanel("grid", ".geojson,.json,.gpkg,.zip", "admin.grids.import_hint"));
    }).catch(fail);
  }

  function rings(geom) {
    if (!geom) { return []; }
    if (geom.type === "Polygon") { return geom.coordinates; }
    if (geom.type === "MultiPolygon") { return [].concat.apply([], geom.coordinates); }
    return [];
  }

  function showGridPlan(out, fc, dry) {
    var all = (A.grids ? A.grids.features : []).concat(fc.features);
    var xs = [], ys = [];
    all.forEach(function (f) { rings(f.geometry).forEach(function (r) { r.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); }); });
    var NS = "http://www.w3.org/2000/svg", W = 900, H = 560;
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("id", "admin-grid-map");
    svg.setAttribute("class", "admin-map");
    if (xs.length) {
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      var k = Math.cos((y0 + y1) / 2 * Math.PI / 180);  // a degree of longitude is shorter than one of latitude
      var s = Math.min((W - 20) / Math.max((x1 - x0) * k, 1e-9), (H - 20) / Math.max(y1 - y0, 1e-9));
      var path = function (geom) {
        return rings(geom).map(function (r) {
          return "M" + r.map(function (p) { return (10 + (p[0] - x0) * k * s).toFixed(1) + "," + (H - 10 - (p[1] - y0) * s).toFixed(1); })
            .join("L") + "Z";
        }).join("");
      };
      var draw = function (f, cls) {
        var p = document.createElementNS(NS, "path");
        p.setAttribute("d", path(f.geometry));
        p.setAttribute("class", cls);
        p.setAttribute("data-code", f.properties.code);
        var t = document.createElementNS(NS, "title");
        t.textContent = f.properties.code + " " + (f.properties.name || "");
        p.appendChild(t);
        svg.appendChild(p);
      };
      (A.grids ? A.grids.features : []).forEach(function (f) { draw(f, "admin-map-now"); });
      fc.features.forEach(function (f) { draw(f, "admin-map-" + f.properties.action); });
    }
    var c = fc.counts || {};
    out.replaceChildren(
      el("p", { cls: "admin-counts", id: "admin-grid-import-counts", text: tx(dry ? "admin.grids.counts" : "admin.grids.done",
        { create: c.created || 0, update: c.updated || 0, kept: fc.kept_count || 0 }) }),
      el("div", { cls: "admin-legend" }, [el("span", { cls: "admin-key now", text: tx("admin.grids.legend_now") }),
        el("span", { cls: "admin-key update", text: tx("admin.grids.legend_update") }),
        el("span", { cls: "admin-key create", text: tx("admin.grids.legend_create") })]),
      svg);
    if (!dry) { api("GET", "/api/v1/grids").then(function (now) { A.grids = now; }).catch(fail); }
  }

  // -- categories ------------------------------------------------------------------------------
  // the street's one catalogue: name, 大类, priority, deadline and its clock, departments that take it, active
  function loadCategories() {
    var pane = document.getElementById("admin-pane-categories");
    return Promise.all([api("GET", "/api/v1/categories"), api("GET", "/api/v1/departments?active=all")])
      .then(function (got) {
        var cats = got[0].items, depts = got[1].items;
        A.categories = cats;
        var street = A.cfg.community_id === null || A.cfg.community_id === undefined;
        var rows = cats.map(function (c) { return categoryRow(c, depts, street); });
        pane.replaceChildren(
          street ? el("p", { cls: "admin-hint", text: tx("admin.categories.hint") })
            : el("p", { cls: "admin-hint", id: "admin-categories-readonly", text: tx("admin.categories.street_only") }),
          table(["admin.categories.code", "admin.categories.major", "admin.field.name", "admin.categories.priority",
                 "admin.categories.limit", "admin.categories.clock", "admin.categories.departments",
                 "admin.field.active", "admin.field.actions"], rows, "admin-categories-table"));
      }).catch(fail);
  }

  function categoryRow(c, depts, editable) {
    var id = "admin-cat-" + c.code;
    var name = el("input", { id: id + "-name", value: c.name, maxlength: "64", "aria-label": tx("admin.field.name") });
    var prio = select(id + "-priority", [1, 2, 3, 4].map(function (n) { return [n, tx("priority." + n)]; }),
                      c.default_priority, { "aria-label": tx("admin.categories.priority") });
    var limit = el("input", { id: id + "-limit", type: "number", min: "0.5", step: "0.5", value: String(c.time_limit_hours),
                              cls: "admin-num", "aria-label": tx("admin.categories.limit") });
    var clock = select(id + "-clock", [["natural", tx("admin.clock.natural")], ["working", tx("admin.clock.working")]],
                       c.clock, { "aria-label": tx("admin.categories.clock") });
    var active = el("input", { id: id + "-active", type: "checkbox", "aria-label": tx("admin.field.active") });
    active.checked = !!c.active;
    var takers = depts.filter(function (d) { return d.active && d.categories.indexOf(c.code) >= 0; })
      .map(function (d) { return d.name; });
    var inputs = [name, prio, limit, clock, active];
    if (!editable) { inputs.forEach(function (i) { i.disabled = true; }); }
    var save = editable ? button(tx("admin.save"), { "data-action": "save" }, function () {
      var body = {}, hours = parseFloat(limit.value);
      if (name.value.trim() !== c.name) { body.name = name.value.trim(); }
      if (parseInt(prio.value, 10) !== c.default_priority) { body.default_priority = parseInt(prio.value, 10); }
      if (hours !== c.time_limit_hours) { body.time_limit_hours = isNaN(hours) ? limit.value : hours; }
      if (clock.value !== c.clock) { body.clock = clock.value; }
      if (active.checked !== !!c.active) { body.active = active.checked; }
      if (!Object.keys(body).length) { message(tx("admin.unchanged"), "ok"); return; }
      api("PATCH", "/api/v1/categories/" + encodeURIComponent(c.code), body).then(function (out) {
        Object.assign(c, out);
        message(tx("admin.categories.saved", { name: out.name }), "ok");
      }).catch(fail);
    }) : null;
    return el("tr", { "data-category": c.code, cls: c.active ? "" : "admin-off" }, [
      el("td", { text: c.code }), el("td", { text: c.major_name || c.major_code || "" }), el("td", {}, [name]),
      el("td", {}, [prio]), el("td", {}, [limit]), el("td", {}, [clock]),
      el("td", { cls: "admin-detail", text: takers.join("、") || tx("admin.categories.any") }),
      el("td", {}, [active]), el("td", { cls: "admin-actions" }, [save])]);
  }

  // -- departments -----------------------------------------------------------------------------
  function categoryName(code) {
    var c = (A.categories || []).filter(function (x) { return x.code === code; })[0];
    return c ? c.name : code;
  }

  function categoryPicker(id, chosen) {
    var s = el("select", { id: id, multiple: "multiple", size: "5", cls: "admin-multi" },
      (A.categories || []).map(function (c) {
        var o = el("option", { value: c.code, text: c.code + " " + c.name });
        if (chosen.indexOf(c.code) >= 0) { o.selected = true; }
        return o;
      }));
    return s;
  }

  function picked(sel) {
    return Array.prototype.filter.call(sel.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
  }

  function loadDepartments() {
    var pane = document.getElementById("admin-pane-departments");
    var cats = A.categories ? Promise.resolve({ items: A.categories }) : api("GET", "/api/v1/categories");
    return Promise.all([cats, api("GET", "/api/v1/departments?active=all")]).then(function (got) {
      A.categories = got[0].items;
      pane.replaceChildren(departmentForm(), table(["admin.field.name", "admin.departments.contact",
        "admin.departments.categories", "admin.field.community_id", "admin.field.active", "admin.field.actions"],
        got[1].items.map(departmentRow), "admin-departments-table"));
    }).catch(fail);
  }

  function departmentForm() {
    var form = el("form", { cls: "admin-form", id: "admin-dept-form" }, [
      el("h2", { text: tx("admin.departments.new") }),
      input("admin-dept-name", tx("admin.field.name"), { required: "required", maxlength: "64" }),
      input("admin-dept-contact", tx("admin.departments.contact"), { maxlength: "128" }),
      el("label", { cls: "admin-field" }, [tx("admin.departments.categories"), categoryPicker("admin-dept-categories", [])]),
      el("label", { cls: "admin-field" }, [tx("admin.field.community_id"),
        select("admin-dept-community", communityOptions(), A.cfg.community_id || "")]),
      el("button", { type: "submit", cls: "console-btn", id: "admin-dept-create" }, [tx("admin.keys.create")])
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var comm = document.getElementById("admin-dept-community").value;
      api("POST", "/api/v1/departments", { name: document.getElementById("admin-dept-name").value.trim(),
        contact: document.getElementById("admin-dept-contact").value.trim(),
        categories: picked(document.getElementById("admin-dept-categories")),
        community_id: comm ? parseInt(comm, 10) : null }).then(function (d) {
        message(tx("admin.departments.created", { name: d.name }), "ok");
        loadDepartments();
      }).catch(fail);
    });
    return form;
  }

  function departmentRow(d) {
    var id = "admin-dept-" + d.id;
    var name = el("input", { id: id + "-name", value: d.name, maxlength: "64", "aria-label": tx("admin.field.name") });
    var contact = el("input", { id: id + "-contact", value: d.contact || "", maxlength: "128",
                                "aria-label": tx("admin.departments.contact") });
    var cats = categoryPicker(id + "-categories", d.categories);
    cats.setAttribute("aria-label", tx("admin.departments.categories"));
    cats.title = d.categories.map(categoryName).join("、");
    var active = el("input", { id: id + "-active", type: "checkbox", "aria-label": tx("admin.field.active") });
    active.checked = !!d.active;
    return el("tr", { "data-department": d.name, cls: d.active ? "" : "admin-off" }, [
      el("td", {}, [name]), el("td", {}, [contact]), el("td", {}, [cats]), el("td", { text: communityName(d.community_id) }),
      el("td", {}, [active]),
      el("td", { cls: "admin-actions" }, [
        button(tx("admin.save"), { "data-action": "save" }, function () {
          api("PATCH", "/api/v1/departments/" + d.id, { name: name.value.trim(), contact: contact.value.trim(),
            categories: picked(cats), active: active.checked }).then(function (out) {
            message(tx("admin.departments.saved", { name: out.name }), "ok");
            loadDepartments();
          }).catch(fail);
        }),
        button(tx("admin.departments.delete"), { "data-action": "delete" }, function () {
          api("DELETE", "/api/v1/departments/" + d.id).then(function () {
            message(tx("admin.departments.deleted", { name: d.name }), "ok");
            loadDepartments();
          }).catch(fail);
        })])]);
  }

  // -- notices beyond the page: the notify outbox, how delivery goes (issue 31) ---------------
  function loadNotify() {
    var pane = document.getElementById("admin-pane-notify");
    return api("GET", "/api/v1/notify/outbox?limit=50").then(function (data) {
      var counts = ["pending", "sent", "dead", "skipped"].map(function (s) {
        return tx("admin.notify.state." + s) + " " + (data.counts[s] || 0);
      }).join(" · ");
      var rows = data.items.map(function (m) {
        var last = m.attempt_list.length ? m.attempt_list[m.attempt_list.length - 1] : null;
        return el("tr", { "data-id": String(m.id), "data-state": m.state }, [
          el("td", { text: when(m.created_at) }), el("td", { text: m.title }),
          el("td", { text: tx("admin.notify.state." + m.state) }), el("td", { text: String(m.attempts) }),
          el("td", { text: last ? [last.status_code || "", last.error || ""].join(" ").trim() || "—" : "—" }),
          el("td", { text: m.state === "pending" ? when(m.next_attempt_at) : when(m.sent_at) })]);
      });
      pane.replaceChildren(
        el("p", { id: "admin-notify-summary", text: tx("admin.notify.backend." + data.backend) + " — " + counts }),
        table(["admin.notify.created", "admin.notify.title", "admin.notify.state", "admin.notify.attempts",
               "admin.notify.last", "admin.notify.when"], rows, "admin-notify-table"));
    }).catch(fail);
  }

  // -- tabs ----------------------------------------------------------------------------------
  var LOADERS = { users: loadUsers, keys: loadKeys, audit: loadAudit, workers: loadWorkers, grids: loadGrids,
                  devices: loadDevices,
                  categories: loadCategories, departments: loadDepartments, notify: loadNotify };

  function show(name) {
    var root = document.getElementById("admin-root");
    root.setAttribute("data-tab", name);
    document.querySelectorAll(".admin-tab").forEach(function (b) {
      b.classList.toggle("active", b.getAttribute("data-tab") === name);
      b.setAttribute("aria-selected", b.getAttribute("data-tab") === name ? "true" : "false");
    });
    document.querySelectorAll(".admin-pane").forEach(function (p) { p.hidden = p.id !== "admin-pane-" + name; });
    var url = new URL(window.location.href);
    url.searchParams.set("tab", name);
    window.history.replaceState(null, "", url);
    var lang = document.getElementById("admin-lang");
    if (lang) { var l = new URL(lang.href, window.location.href); l.searchParams.set("tab", name); lang.href = l.pathname + l.search; }
    message("", "ok");
    LOADERS[name]();
  }

  function start(root) {
    A.cfg = JSON.parse(root.getAttribute("data-config"));
    document.querySelectorAll(".admin-tab").forEach(function (b) {
      b.addEventListener("click", function () { show(b.getAttribute("data-tab")); });
    });
    var comm = A.cfg.community_id;
    api("GET", "/api/v1/grids" + (comm ? "?community_id=" + comm : "")).then(function (fc) {
      var seen = {};
      fc.features.forEach(function (f) {
        var p = f.properties;
        if (!seen[p.community_id]) { seen[p.community_id] = 1; A.communities.push({ id: p.community_id, name: p.community_name }); }
      });
    }).catch(function () { /* the names only: the lists still load */ }).then(function () {
      show(root.getAttribute("data-tab") || "users");
    });
  }

  // the router renders the page after the scripts ran: wait for the frame
  var tries = 0;
  (function wait() {
    var root = document.getElementById("admin-root");
    if (root && !root.getAttribute("data-started")) { root.setAttribute("data-started", "1"); start(root); return; }
    if (!root && tries++ < 600) { setTimeout(wait, 50); }
  })();
})();
