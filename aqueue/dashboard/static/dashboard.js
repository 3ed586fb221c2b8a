// aqueue dashboard: renders each page from its JSON data (embedded in the page, then
// pushed over server-sent events). Job data only ever goes in with textContent.
"use strict";
(function () {
  const body = document.body;
  const BASE = body.dataset.base || "";
  const CSRF = body.dataset.csrf;
  const CAN_ACT = body.dataset.canAct === "yes";
  const PAGE = body.dataset.page;
  let data = JSON.parse(document.getElementById("data").textContent);
  let clockSkew = 0; // server time - browser time, seconds
  const selected = new Set();

  // -- helpers ---------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "checked") el.checked = !!v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function svg(tag, attrs, ...children) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children.flat()) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }
  const fmt = (n) => (n === null || n === undefined) ? "-" : Number(n).toLocaleString("en-US");
  function age(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    const s = Math.abs(seconds);
    if (s < 10) return s.toFixed(1) + "s";
    if (s < 60) return Math.round(s) + "s";
    if (s < 3600) return Math.round(s / 60) + "m";
    if (s < 86400) return (s / 3600).toFixed(1) + "h";
    return (s / 86400).toFixed(1) + "d";
  }
  function bytes(n) {
    if (n === null || n === undefined) return "-";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : Math.round(n)) + " " + units[i];
  }
  const now = () => Date.now() / 1000 + clockSkew;
  function when(t) {
    if (!t) return h("span", {}, "-");
    const d = now() - t;
    return h("span", {title: new Date(t * 1000).toISOString()}, d >= 0 ? age(d) + " ago" : "in " + age(-d));
  }
  const short = (id) => id.length > 12 ? id.slice(0, 8) + "…" : id;
  const jobUrl = (queue, id) => `${BASE}/queues/${encodeURIComponent(queue)}/jobs/${encodeURIComponent(id)}`;
  const queueUrl = (queue, params) => `${BASE}/queues/${encodeURIComponent(queue)}` + (params ? "?" + new URLSearchParams(params) : "");
  function replace(id, ...children) {
    const el = document.getElementById(id);
    if (el) el.replaceChildren(...children.flat().filter(Boolean));
    return el;
  }
  function toast(message, bad) {
    const el = document.getElementById("toast");
    el.textContent = message;
    el.className = "toast" + (bad ? " bad" : "");
    el.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
  }
  async function post(path, payload) {
    const response = await fetch(BASE + path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
      body: JSON.stringify(payload)});
    const answer = await response.json().catch(() => ({error: response.statusText}));
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  }
  function statusBadge(status) { return h("span", {class: "status " + status}, status); }
  function moment(job) {
    return job.ended_at || job.started_at || job.scheduled_for || job.enqueued_at;
  }
  function bar(fraction, title) {
    const f = Math.max(0, Math.min(1, fraction || 0));
    return h("div", {class: "bar" + (f > 0.9 ? " bad" : f > 0.7 ? " warn" : ""), title: title},
      h("i", {style: `width:${(f * 100).toFixed(1)}%`}));
  }

  // -- charts ----------------------------------------------------------------------
  function lineChart(series, opts) {
    const W = 900, H = 220, L = 44, R = 10, T = 10, B = 24;
    const points = series.flatMap((s) => s.points);
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
                             "aria-label": opts.label});
    if (!points.length) {
      root.append(svg("text", {x: W / 2, y: H / 2, "text-anchor": "middle"},
        "no history yet: workers sample every queue once a minute"));
      return root;
    }
    const t0 = Math.min(...points.map((p) => p[0])), t1 = Math.max(...points.map((p) => p[0]));
    const vmax = Math.max(1, ...points.map((p) => p[1]));
    const x = (t) => L + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * (W - L - R);
    const y = (v) => T + (1 - v / vmax) * (H - T - B);
    for (const f of [0, 0.5, 1]) {
      root.append(svg("line", {class: "axis", x1: L, x2: W - R, y1: y(vmax * f), y2: y(vmax * f)}));
      root.append(svg("text", {x: L - 6, y: y(vmax * f) + 4, "text-anchor": "end"}, fmt(Math.round(vmax * f))));
    }
    for (const t of [t0, (t0 + t1) / 2, t1]) {
      root.append(svg("text", {x: x(t), y: H - 6, "text-anchor": "middle"},
        t1 - t0 > 2 * 86400 ? new Date(t * 1000).toLocaleDateString([], {month: "short", day: "numeric"})
          : new Date(t * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})));
    }
    for (const s of series) {
      if (!s.points.length) continue;
      const d = s.points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
      root.append(svg("path", {d, fill: "none", stroke: s.color, "stroke-width": 2}));
      for (const p of s.points) {
        const dot = svg("circle", {cx: x(p[0]), cy: y(p[1]), r: 2.5, fill: s.color});
        dot.append(svg("title", {}, `${s.name}: ${p[1]} per minute at ${new Date(p[0] * 1000).toLocaleTimeString()}`));
        root.append(dot);
      }
    }
    return root;
  }
  function sparkline(values, color) {
    const W = 120, H = 26;
    const root = svg("svg", {class: "spark", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none"});
    if (values.length < 2) return root;
    const max = Math.max(1, ...values);
    const d = values.map((v, i) => `${i ? "L" : "M"}${(i / (values.length - 1) * W).toFixed(1)},${(H - 2 - v / max * (H - 4)).toFixed(1)}`).join("");
    root.append(svg("path", {d, fill: "none", stroke: color, "stroke-width": 1.5}));
    return root;
  }

  // -- overview --------------------------------------------------------------------
  let lastTotals = null;
  function renderOverview(d) {
    const sum = (k) => d.queues.reduce((a, q) => a + (q.counts[k] || 0), 0);
    const finished = sum("finished"), failedTotal = d.queues.reduce((a, q) => a + (q.counts.failed || 0), 0);
    let perSecond = null;
    if (lastTotals && d.now > lastTotals.now) perSecond = Math.max(0, (finished - lastTotals.finished) / (d.now - lastTotals.now));
    lastTotals = {finished, now: d.now};
    const byMinute = new Map();
    for (const q of d.queues) for (const r of q.rates) {
      const e = byMinute.get(r.at) || {finished: 0, failed: 0};
      e.finished += r.finished; e.failed += r.failed; byMinute.set(r.at, e);
    }
    const minutes = [...byMinute.entries()].sort((a, b) => a[0] - b[0]);
    const lastHour = minutes.reduce((a, [, e]) => ({f: a.f + e.finished, x: a.x + e.failed}), {f: 0, x: 0});
    const rate = lastHour.f + lastHour.x ? lastHour.x / (lastHour.f + lastHour.x) : null;
    const memory = d.queues.reduce((a, q) => a + (q.memory ? q.memory.total : 0), 0);
    const stale = d.workers.filter((w) => w.stale).length;
    const card = (k, v, cls) => h("div", {class: "card " + (cls || ""), "data-card": k}, h("div", {class: "v"}, v), h("div", {class: "k"}, k));
    replace("cards",
      card("queued", fmt(sum("queued"))), card("scheduled", fmt(sum("scheduled"))),
      card("running", fmt(sum("started"))), card("failed", fmt(failedTotal), failedTotal ? "bad" : ""),
      card("finished now", perSecond === null ? "…" : perSecond.toFixed(1) + "/s"),
      card("failure rate, " + d.span, rate === null ? "-" : (rate * 100).toFixed(1) + "%", rate > 0.05 ? "bad" : ""),
      card("live workers", fmt(d.workers.length - stale) + (stale ? ` (+${stale} stale)` : ""), d.workers.length ? "" : "warn"),
      card("Redis memory", bytes(memory)));
    const SPAN_NAMES = {"1h": "last hour", "24h": "last 24 hours", "30d": "last 30 days"};
    document.getElementById("chart-title").textContent = "Throughput, " + SPAN_NAMES[d.span];
    document.getElementById("spark-head").textContent = SPAN_NAMES[d.span];
    replace("spans", ...Object.keys(SPAN_NAMES).map((s) => h("a", {href: `${BASE}/?span=${s}`,
      style: "margin-left:10px" + (s === d.span ? ";font-weight:700" : ""), "data-span": s}, s)));
    replace("servers", ...(d.servers || []).map((s) => h("div", {class: "facts", style: "margin-bottom:6px"},
      h("div", {}, h("span", {class: "k"}, "server"), h("span", {class: "mono"}, s.address)),
      h("div", {}, h("span", {class: "k"}, "version"), h("span", {}, s.version)),
      h("div", {}, h("span", {class: "k"}, "memory"), h("span", {}, bytes(s.used_memory) + (s.maxmemory ? ` of ${bytes(s.maxmemory)}` : " (no limit)")),
        s.maxmemory ? bar(s.used_memory / s.maxmemory, "used of maxmemory") : null),
      h("div", {}, h("span", {class: "k"}, "eviction policy"), h("span", {class: s.policy.startsWith("noeviction") ? "" : "err"}, s.policy)),
      h("div", {}, h("span", {class: "k"}, "clients"), h("span", {}, fmt(s.clients))),
      h("div", {}, h("span", {class: "k"}, "up"), h("span", {}, age(s.uptime))))));
    replace("chart", lineChart([
      {name: "finished", color: "#1f9d55", points: minutes.map(([t, e]) => [t, Math.round(e.finished)])},
      {name: "failed", color: "#d33a3a", points: minutes.map(([t, e]) => [t, Math.round(e.failed)])},
    ], {label: "jobs finished and failed per minute"}),
    h("div", {class: "legend"}, h("span", {}, h("i", {style: "background:#1f9d55"}), "finished / min"),
      h("span", {}, h("i", {style: "background:#d33a3a"}), "failed / min")));
    const rows = d.queues.map((q) => {
      const c = q.counts;
      const ended = q.rates.reduce((a, r) => ({f: a.f + r.finished, x: a.x + r.failed}), {f: 0, x: 0});
      const fr = ended.f + ended.x ? ended.x / (ended.f + ended.x) : null;
      const noWorkers = q.workers === 0 && (c.queued > 0 || c.scheduled > 0);
      return h("tr", {"data-queue": q.name},
        h("td", {}, h("a", {href: queueUrl(q.name), class: "mono"}, q.name)),
        h("td", {class: "n", "data-count": "queued"}, h("a", {href: queueUrl(q.name, {state: "queued"})}, fmt(c.queued))),
        h("td", {class: "n"}, h("a", {href: queueUrl(q.name, {state: "scheduled"})}, fmt(c.scheduled))),
        h("td", {class: "n", "data-count": "deferred"}, h("a", {href: queueUrl(q.name, {state: "deferred"})}, fmt(c.deferred || 0))),
        h("td", {class: "n"}, h("a", {href: queueUrl(q.name, {state: "started"})}, fmt(c.started))),
        h("td", {class: "n"}, h("a", {href: queueUrl(q.name, {state: "failed"}), class: c.failed ? "err" : ""}, fmt(c.failed))),
        h("td", {class: "n"}, fmt(c.finished)),
        h("td", {class: "n"}, age(c.oldest_queued_age)),
        h("td", {class: "n"}, noWorkers ? h("span", {class: "badge bad"}, "no workers") : fmt(q.workers)),
        h("td", {class: "n"}, q.memory ? bytes(q.memory.total) : "…"),
        h("td", {class: "n"}, q.memory && q.memory.per_job ? bytes(q.memory.per_job) : "-"),
        h("td", {}, sparkline(q.rates.map((r) => r.finished), "#1f9d55")),
        h("td", {class: "n"}, fr === null ? "-" : (fr * 100).toFixed(1) + "%"));
    });
    const tbody = document.querySelector("#queues tbody");
    tbody.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", {colspan: 12, class: "empty"}, "no queues yet"))]));
    const byHost = d.workers.length ? d.workers.map((w) => h("span", {class: "badge" + (w.stale ? " warn" : ""), style: "margin-right:6px"},
      `${w.name} · ${w.in_flight}/${w.concurrency} busy · ♥ ${age(w.heartbeat_age)}`)) : [h("span", {class: "hint"}, "no live workers")];
    replace("workers-summary", ...byHost);
  }

  // -- a queue ---------------------------------------------------------------------
  const STATES = ["queued", "scheduled", "deferred", "started", "failed", "finished", "canceled"];
  const ACTIONS = {queued: ["cancel", "delete"], scheduled: ["cancel", "delete"], deferred: ["cancel", "delete"], started: [],
                   failed: ["requeue", "delete"], finished: ["delete"], canceled: ["delete"]};
  let bulkStream = null;
  function jobRows(d, jobs, withQueue) {
    return jobs.map((j) => {
      const run = d.running && d.running[j.id];
      const extra = run ? h("td", {}, bar(run.running_for / run.timeout, `${age(run.running_for)} of ${age(run.timeout)} timeout`),
          h("span", {class: "hint"}, `${age(run.running_for)} / ${age(run.timeout)} · lease ${age(run.lease_left)}`))
        : h("td", {class: "err"}, j.error || "");
      const box = h("input", {type: "checkbox", "data-id": j.id, "data-queue": j.queue, checked: selected.has(j.queue + "/" + j.id),
        "aria-label": "select " + j.id, onchange: (e) => { e.target.checked ? selected.add(j.queue + "/" + j.id) : selected.delete(j.queue + "/" + j.id); renderToolbar(); }});
      return h("tr", {"data-job": j.id},
        h("td", {class: "sel"}, CAN_ACT ? box : ""),
        h("td", {class: "id"}, h("a", {href: jobUrl(j.queue, j.id), title: j.id}, short(j.id))),
        withQueue ? h("td", {class: "mono"}, h("a", {href: queueUrl(j.queue, {state: d.view})}, j.queue)) : null,
        h("td", {class: "mono"}, j.func),
        h("td", {class: "args", title: j.args}, j.args),
        withQueue ? null : h("td", {}, statusBadge(j.status)),
        h("td", {}, when(moment(j))),
        h("td", {class: "n"}, `${j.attempts}/${j.max_attempts}`),
        withQueue ? h("td", {class: "err"}, j.error || "") : extra);
    });
  }
  function renderQueue(d) {
    const counts = d.counts;
    replace("tabs", ...STATES.map((s) => h("a", {href: queueUrl(d.queue, {state: s, q: d.q || ""}), class: s === d.view ? "on" : "", "data-state": s},
      s, h("span", {class: "c", "data-count": s}, fmt(counts[s])))));
    document.getElementById("search-state").value = d.view;
    const q = document.getElementById("q");
    if (document.activeElement !== q) q.value = d.q || "";
    const hint = d.search ? (d.search.indexed
      ? `search index: looked at ${fmt(d.search.looked_at)} of ${fmt(d.search.size)} entries`
      : `no search index: scanned ${fmt(d.search.looked_at)} of ${fmt(d.search.size)} jobs` + (d.next_cursor ? " (next page goes on)" : ""))
      : (d.index.enabled ? "search index on" : "no search index: searches scan the registries (bounded)");
    replace("search-hint", hint);
    document.getElementById("extra-head").textContent = d.view === "started" ? "running for / timeout · lease" : "error";
    const rows = jobRows(d, d.jobs, false);
    document.querySelector("#jobs tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", {colspan: 8, class: "empty"}, d.q ? "no job matches" : `no ${d.view} jobs`))]));
    renderToolbar();
    renderPager(d);
    renderIndex(d);
  }
  function renderToolbar() {
    const d = data, el = document.getElementById("toolbar");
    if (!el || !CAN_ACT) { if (el) el.replaceChildren(h("span", {class: "hint"}, "read-only: actions are disabled")); return; }
    const view = d.view;
    const actions = PAGE === "states" ? ACTIONS[view] : ACTIONS[view] || [];
    const visible = new Set((d.jobs || []).map((j) => j.queue + "/" + j.id));
    for (const key of [...selected]) if (!visible.has(key)) selected.delete(key);
    const all = document.getElementById("select-all");
    if (all) all.checked = visible.size > 0 && selected.size === visible.size;
    const n = selected.size;
    const items = [h("span", {class: "hint"}, n ? `${n} selected` : "select jobs to act on them")];
    for (const a of actions) items.push(h("button", {disabled: !n, "data-action": a, class: a === "delete" ? "danger" : "", onclick: () => act(a, false)}, `${a} selected`));
    if (PAGE === "queue" && actions.length) {
      items.push(h("span", {class: "sep"}));
      const matching = d.q ? "all matching" : `all ${fmt(d.counts[view])} ${view}`;
      for (const a of actions) items.push(h("button", {"data-action-all": a, class: a === "delete" ? "danger" : "", onclick: () => act(a, true)}, `${a} ${matching}`));
    }
    el.replaceChildren(...items);
  }
  async function act(action, all) {
    const d = data;
    try {
      if (all) {
        const what = d.q ? `every ${d.view} job matching “${d.q}”` : `every ${d.view} job`;
        if (!confirm(`${action} ${what} in ${d.queue}?`)) return;
        const answer = await post(`/api/queues/${encodeURIComponent(d.queue)}/actions`, {action, all: true, state: d.view, q: d.q || ""});
        followTask(answer.task);
        return;
      }
      const jobs = [...selected].map((k) => { const i = k.indexOf("/"); return {queue: k.slice(0, i), id: k.slice(i + 1)}; });
      if (action === "delete" && !confirm(`delete ${jobs.length} job(s)?`)) return;
      const answer = PAGE === "queue"
        ? await post(`/api/queues/${encodeURIComponent(d.queue)}/actions`, {action, ids: jobs.map((j) => j.id)})
        : await post("/api/actions", {action, jobs});
      selected.clear();
      toast(`${action}: ${answer.changed} of ${answer.requested} job(s) changed`);
    } catch (e) { toast(`${action} failed: ${e.message}`, true); }
  }
  function followTask(task) {
    const el = document.getElementById("progress");
    const show = (t) => {
      el.hidden = false;
      const total = t.matched || 0;
      const fraction = t.phase === "collecting" ? 0 : total ? t.processed / total : 1;
      el.replaceChildren(h("div", {"data-phase": t.phase}, `${t.action} ${t.query ? "“" + t.query + "”" : ""}: `,
        t.phase === "collecting" ? `finding jobs… ${fmt(t.matched)} so far` :
        t.phase === "acting" ? `${fmt(t.processed)} of ${fmt(total)} done` :
        t.phase === "done" ? `done: ${fmt(t.changed)} of ${fmt(total)} job(s) changed` : `failed: ${t.error}`),
        bar(fraction, `${Math.round(fraction * 100)}%`));
      if (t.phase === "done" || t.phase === "failed") { if (bulkStream) bulkStream.close(); bulkStream = null; selected.clear(); }
    };
    show(task);
    if (bulkStream) bulkStream.close();
    bulkStream = new EventSource(`${BASE}/live/tasks/${task.id}`);
    bulkStream.onmessage = (e) => show(JSON.parse(e.data));
  }
  function renderPager(d) {
    const items = [];
    const params = (extra) => ({state: d.view, ...(d.q ? {q: d.q} : {}), ...extra});
    if (d.pages !== null) {
      if (d.page > 0) items.push(h("a", {href: queueUrl(d.queue, params({page: d.page - 1})), rel: "prev"}, "← newer"));
      items.push(h("span", {}, `page ${d.page + 1} of ${fmt(d.pages)}`));
      if (d.page + 1 < d.pages) items.push(h("a", {href: queueUrl(d.queue, params({page: d.page + 1})), rel: "next"}, "older →"));
    } else {
      if (d.cursor) items.push(h("a", {href: "#", onclick: (e) => { e.preventDefault(); history.back(); }}, "← back"));
      if (d.next_cursor) items.push(h("a", {href: queueUrl(d.queue, params({cursor: d.next_cursor})), rel: "next"}, "next page →"));
      else items.push(h("span", {}, "end of results"));
    }
    replace("pager", ...items);
  }
  function renderIndex(d) {
    const ix = d.index;
    const items = [h("h2", {}, "Search index", h("small", {}, ix.enabled
      ? `on · ${fmt(ix.jobs)} jobs · ${bytes(ix.bytes)} · fields: ${ix.fields ? ix.fields.join(", ") : "every argument"}`
      : "off · searches by id, function, status and arguments scan the registries, a few thousand jobs per page"))];
    items.push(h("p", {class: "hint"}, "The index makes search by function and argument values fast at millions of jobs; it costs every enqueue of this queue some Redis CPU and memory (see docs/dashboard.md)."));
    if (CAN_ACT) items.push(h("button", {"data-index": ix.enabled ? "off" : "on", onclick: async () => {
      if (ix.enabled && !confirm("drop the search index of " + d.queue + "?")) return;
      try { const a = await post(`/api/queues/${encodeURIComponent(d.queue)}/index`, {enable: !ix.enabled}); toast(a.enabled ? `index on: ${fmt(a.backfilled)} job(s) indexed` : "index dropped"); }
      catch (e) { toast(e.message, true); }
    }}, ix.enabled ? "drop the index" : "turn the index on"));
    replace("index-panel", ...items);
  }

  // -- a job -----------------------------------------------------------------------
  function renderJob(d) {
    if (d.missing) { replace("job", h("div", {class: "panel empty"}, d.missing)); return; }
    const fact = (k, v) => h("div", {}, h("span", {class: "k"}, k), h("span", {}, v));
    const step = (k, t, done) => h("div", {class: "step" + (done ? " done" : "")}, h("div", {class: "k"}, k), t ? when(t) : "-");
    const gap = (a, b) => a && b ? h("span", {class: "gap"}, `${age(b - a)} →`) : h("span", {class: "gap"}, "→");
    const actions = [];
    if (CAN_ACT) {
      const doit = (a) => async () => {
        try { const r = await post(`/api/queues/${encodeURIComponent(d.queue)}/actions`, {action: a, ids: [d.id]}); toast(`${a}: ${r.changed ? "done" : "nothing changed"}`); }
        catch (e) { toast(e.message, true); }
      };
      if (d.status === "failed") actions.push(h("button", {"data-action": "requeue", onclick: doit("requeue")}, "requeue"));
      if (d.status === "queued" || d.status === "scheduled" || d.status === "started" || d.status === "deferred") actions.push(h("button", {"data-action": "cancel", onclick: doit("cancel")}, "cancel"));
      if (d.status !== "started") actions.push(h("button", {"data-action": "delete", class: "danger", onclick: doit("delete")}, "delete"));
    }
    const run = d.running;
    const parts = [
      h("h1", {}, h("span", {class: "name"}, d.func), " ", statusBadge(d.status)),
      h("p", {class: "mono hint"}, d.id, " · queue ", d.queue, d.description ? " · " + d.description : ""),
      h("div", {class: "toolbar"}, ...actions),
      h("section", {class: "panel"}, h("h2", {}, "Timeline"), h("div", {class: "timeline"},
        step("enqueued", d.enqueued_at, true), gap(d.enqueued_at, d.scheduled_for),
        d.scheduled_for ? step("due", d.scheduled_for, d.scheduled_for <= now()) : null, d.scheduled_for ? gap(d.scheduled_for, d.started_at) : null,
        step("started", d.started_at, !!d.started_at), gap(d.started_at, d.ended_at),
        step(d.status === "failed" ? "failed" : d.status === "canceled" ? "canceled" : "finished", d.ended_at, !!d.ended_at))),
      h("section", {class: "panel"}, h("div", {class: "facts"},
        fact("attempts", `${d.attempts} of ${d.max_attempts}`), fact("deliveries", d.deliveries),
        fact("worker", d.worker || "-"), fact("timeout", `${d.timeout} s`),
        fact("result kept", d.result_ttl < 0 ? "forever" : `${d.result_ttl} s`),
        fact("failure kept", d.failure_ttl < 0 ? "forever" : `${d.failure_ttl} s`),
        fact("retry", retryText(d.retry)))),
    ];
    if (run) parts.push(h("section", {class: "panel"}, h("h2", {}, "Running"),
      bar(run.running_for / run.timeout, "elapsed against the timeout"),
      h("p", {class: "hint"}, `running for ${age(run.running_for)} of its ${age(run.timeout)} timeout · lease ${run.lease_left >= 0 ? "expires in " + age(run.lease_left) : "expired " + age(-run.lease_left) + " ago"}`),
      stackButton(d.worker, d.id)));
    if (d.progress) parts.push(h("section", {class: "panel", id: "progress"}, h("h2", {}, "Progress"),
      d.progress.fraction !== null ? bar(d.progress.fraction, "reported progress") : null,
      h("p", {class: "hint"}, `${d.progress.value}${d.progress.total !== null ? " of " + d.progress.total : ""}${d.progress.message ? " · " + d.progress.message : ""}`)));
    if (d.meta) parts.push(h("section", {class: "panel"}, h("h2", {}, "Meta"), h("pre", {id: "meta"}, JSON.stringify(d.meta, null, 2))));
    if (d.callback_error) parts.push(h("section", {class: "panel"}, h("h2", {}, "Callback"), h("p", {class: "err", id: "callback-error"}, d.callback_error)));
    if (d.history.length > 1 || d.history.some((a) => !["finished", "running", "failed"].includes(a.outcome))) parts.push(h("section", {class: "panel"}, h("h2", {}, "Attempts"),
      h("table", {class: "grid", id: "attempts"}, h("tbody", {}, ...d.history.map((a, i) => h("tr", {},
        h("td", {}, `${i + 1}`), h("td", {}, a.outcome), h("td", {}, a.started_at ? when(a.started_at) : "-"),
        h("td", {}, a.started_at && a.ended_at ? age(a.ended_at - a.started_at) : "-"), h("td", {class: "mono"}, a.worker || "-"),
        h("td", {class: "err"}, a.exc_type ? `${a.exc_type}: ${a.exc_message || ""}` : "")))))));
    parts.push(h("section", {class: "panel"}, h("h2", {}, "Arguments"),
      h("div", {class: "hint"}, "positional"), h("pre", {id: "args"}, d.args_text),
      h("div", {class: "hint"}, "keyword"), h("pre", {id: "kwargs"}, d.kwargs_text)));
    if (d.result_text !== null) parts.push(h("section", {class: "panel"}, h("h2", {}, "Result"), h("pre", {id: "result"}, d.result_text)));
    if (d.exc_type) parts.push(h("section", {class: "panel"}, h("h2", {}, "Error"),
      h("p", {class: "err", id: "error"}, `${d.exc_type}: ${d.exc_message || ""}`),
      d.traceback ? h("pre", {id: "traceback"}, d.traceback) : null));
    const links = [h("a", {href: queueUrl(d.queue, {state: d.status, q: "func:" + d.func})}, `${d.status} jobs of ${d.func}`),
      ...d.searches.map((q) => h("a", {href: queueUrl(d.queue, {state: d.status, q}), style: "margin-left:14px", "data-search": q}, `${d.status} jobs with ${q}`))];
    parts.push(h("section", {class: "panel"}, h("h2", {}, "Related"), h("p", {}, ...links),
      d.related.length ? h("table", {class: "grid"}, h("tbody", {}, ...d.related.map((r) => h("tr", {},
        h("td", {class: "id"}, h("a", {href: jobUrl(r.queue, r.id)}, short(r.id))), h("td", {class: "mono"}, r.func),
        h("td", {}, statusBadge(r.status)), h("td", {}, when(moment(r))))))) : h("p", {class: "hint"}, "no job ids among its arguments")));
    replace("job", ...parts);
  }
  function retryText(r) {
    if (!r) return "none";
    const how = r.backoff ? `backoff ${JSON.stringify(r.backoff)}` : `after ${(r.interval || []).join(", ")} s`;
    return `up to ${r.max} retr${r.max === 1 ? "y" : "ies"}, ${how}` + (r.jitter ? ", with jitter" : "");
  }
  const stacks = new Map(); // job id -> stack text shown, kept across live updates
  function stackButton(worker, jobId) {
    const out = h("pre", {class: "stack", "data-stack": jobId, hidden: !stacks.has(jobId)}, stacks.get(jobId) || "");
    const button = h("button", {"data-stack-for": jobId, onclick: async () => {
      button.disabled = true;
      try { const a = await post(`/api/workers/${encodeURIComponent(worker)}/stack`, {job: jobId}); stacks.set(jobId, a.stack); }
      catch (e) { stacks.set(jobId, "could not get the stack: " + e.message); }
      out.textContent = stacks.get(jobId); out.hidden = false; button.disabled = false;
    }}, "live stack");
    return h("div", {}, button, out);
  }

  // -- workers ---------------------------------------------------------------------
  function renderWorkers(d) {
    if (!d.workers.length) { replace("workers", h("div", {class: "panel empty"}, "no live workers")); return; }
    replace("workers", ...d.workers.map((w) => h("section", {class: "panel worker", "data-worker": w.name},
      h("div", {class: "head"}, h("span", {class: "name"}, w.name),
        h("span", {class: "hint"}, `${w.host} · pid ${w.pid}` + (w.supervisor ? ` · supervised by ${w.supervisor}` : "")),
        h("span", {}, "queues ", ...w.queues.map((q) => h("a", {href: queueUrl(q), class: "mono", style: "margin-right:6px"}, q))),
        h("span", {class: w.stale ? "badge warn" : "badge"}, `heartbeat ${age(w.heartbeat_age)} ago` + (w.stale ? " · STALE" : "")),
        w.sharing_name > 1 ? h("span", {class: "badge bad"}, `${w.sharing_name} processes share this name`) : null),
      h("div", {class: "facts", style: "margin:10px 0"},
        h("div", {}, h("span", {class: "k"}, "busy"), h("span", {}, `${Math.max(w.in_flight, w.jobs.length)} of ${w.concurrency}`), bar(Math.max(w.in_flight, w.jobs.length) / w.concurrency, "slots in use")),
        h("div", {}, h("span", {class: "k"}, "processed"), h("span", {}, fmt(w.processed))),
        h("div", {}, h("span", {class: "k"}, "failed"), h("span", {}, fmt(w.failed))),
        h("div", {}, h("span", {class: "k"}, "up"), h("span", {}, age(now() - w.started_at))),
        h("div", {}, h("span", {class: "k"}, "lease"), h("span", {}, `${w.lease} s`))),
      w.jobs.length ? h("table", {class: "grid"}, h("thead", {}, h("tr", {}, h("th", {}, "job"), h("th", {}, "queue"), h("th", {}, "function"),
          h("th", {}, "running for / timeout"), h("th", {}, "lease"), h("th", {}, "stack"))),
        h("tbody", {}, ...w.jobs.map((j) => h("tr", {"data-job": j.id},
          h("td", {class: "id"}, h("a", {href: jobUrl(j.queue, j.id)}, short(j.id))), h("td", {class: "mono"}, j.queue),
          h("td", {class: "mono"}, j.func),
          h("td", {}, bar(j.running_for / j.timeout, "elapsed against the timeout"), h("span", {class: "hint"}, `${age(j.running_for)} / ${age(j.timeout)}`)),
          h("td", {}, j.lease_left >= 0 ? `${age(j.lease_left)} left` : h("span", {class: "err"}, `expired ${age(-j.lease_left)} ago`)),
          h("td", {}, stackButton(w.name, j.id))))))
        : h("p", {class: "hint"}, "no job running"))));
  }

  // -- failed / scheduled across queues --------------------------------------------
  function renderStates(d) {
    const rows = jobRows(d, d.jobs, true);
    document.querySelector("#jobs tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", {colspan: 8, class: "empty"}, `no ${d.view} jobs`))]));
    const per = Object.entries(d.queues).filter(([, n]) => n > 0);
    replace("states-hint", `${fmt(d.total)} ${d.view} job(s)` + (d.total > d.jobs.length ? `, the first ${d.jobs.length} shown` : ""),
      per.length ? " · by queue: " : "", ...per.map(([q, n]) => h("a", {href: queueUrl(q, {state: d.view}), style: "margin-right:8px"}, `${q} (${fmt(n)})`)));
    renderToolbar();
  }

  // -- live updates ----------------------------------------------------------------
  const RENDER = {overview: renderOverview, queue: renderQueue, job: renderJob, workers: renderWorkers, states: renderStates};
  function render() {
    if (data.live_error) { setLive("err", "Redis: " + data.live_error); return; }
    if (data.now) clockSkew = data.now - Date.now() / 1000;
    RENDER[PAGE](data);
  }
  function setLive(state, text) {
    const el = document.getElementById("live");
    el.className = "live " + state; el.textContent = text;
  }
  let stream = null;
  function connect() {
    if (stream) return;
    const path = location.pathname.slice(BASE.length) || "/";
    stream = new EventSource(`${BASE}/live${path === "/" ? "" : path}${location.search}`);
    stream.onopen = () => setLive("on", "live");
    stream.onerror = () => setLive("err", "reconnecting");
    stream.onmessage = (e) => {
      const next = JSON.parse(e.data);
      if (next.live_error) { setLive("err", "Redis: " + next.live_error); return; }
      data = next; setLive("on", "live"); render();
    };
  }
  function disconnect() { if (stream) { stream.close(); stream = null; } setLive("off", "paused"); }
  document.addEventListener("visibilitychange", () => document.hidden ? disconnect() : connect());
  const all = document.getElementById("select-all");
  if (all) all.addEventListener("change", () => {
    for (const j of data.jobs || []) all.checked ? selected.add(j.queue + "/" + j.id) : selected.delete(j.queue + "/" + j.id);
    render();
  });
  render();
  if (!document.hidden) connect(); else setLive("off", "paused");
  window.aqueueDashboard = {get data() { return data; }, get connected() { return !!stream; }};
})();
