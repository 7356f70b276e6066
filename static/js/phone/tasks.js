/* citygrid phone page: my verify / check tasks on the map and in a list, one case's details and
 * the verify / check form. */
(function () {
  "use strict";

  var P = window.citygridPhone;  // the phone page's shared parts (phone/base.js)
  var C = window.citygrid;
  var el = C.el;
  var fmt = C.fmt;
  var IC = P.IC, T = P.T, map = P.map, $ = P.$, state = P.state;
  var esc = C.esc;  // divIcon html is HTML: texts go through it
  var sheet = P.sheet, toast = P.toast, refusalText = P.refusalText, when = P.when, call = P.call;
  var clearErrors = P.clearErrors, showError = P.showError, showProblem = P.showProblem, errSlot = P.errSlot;
  var openSheet = P.openSheet, reveal = P.reveal, dl = P.dl, PhotoPicker = P.PhotoPicker;

  // ---- my tasks -------------------------------------------------------------------------------
  var taskLayer = L.layerGroup().addTo(map);
  var detailCache = {};  // id -> case detail (refreshed when the version moves)

  function taskKind(c) {
    return c.state === "verifying" ? "verify" : "check";
  }

  function taskIcon(c) {
    var kind = taskKind(c);
    return L.divIcon({
      className: "cg-task-pin cg-task-" + kind + " cg-light-" + (c.light || "green"),
      html: "<span>" + esc(kind === "verify" ? T.verifyShort : T.checkShort) + "</span>",
      iconSize: [30, 30], iconAnchor: [15, 15],
    });
  }

  async function detail(id, version) {
    var hit = detailCache[id];
    if (hit && hit.version === version) return hit;
    var r = await call(IC.caseUrl + id);
    if (!r.ok) throw r;
    detailCache[id] = r.body;
    return r.body;
  }

  async function loadTasks() {
    var r = await call(IC.casesUrl + "?" + new URLSearchParams({ mine: "1", page_size: "100" }).toString());
    if (!r.ok) {
      state.tasksError = refusalText(r.status, r.body);
      if (sheet.dataset.view === "cg-tasks") renderTasks();
      return;
    }
    state.tasksError = null;
    var items = r.body.items;
    // The list carries no location; the details do (a few tasks per inspector, four at a time).
    var queueIds = items.slice();
    var workers = [0, 1, 2, 3].map(async function () {
      while (queueIds.length) {
        var c = queueIds.shift();
        try { c.detail = await detail(c.id, c.version); } catch (e) { c.detail = null; }
      }
    });
    await Promise.all(workers);
    state.tasks = items;
    state.tasksLoaded = true;
    var count = $("cg-tasks-count");
    count.textContent = String(items.length);
    count.dataset.count = String(items.length);
    taskLayer.clearLayers();
    items.forEach(function (c) {
      if (!c.detail || !c.detail.location) return;
      var m = L.marker([c.detail.location.lat, c.detail.location.lon], {
        icon: taskIcon(c), keyboard: true, title: c.number + " · " + c.category.name, riseOnHover: true,
      });
      m.on("click", function () { openCase(c.id, showTasks); });
      m.addTo(taskLayer);
      c.marker = m;
    });
    if (sheet.dataset.view === "cg-tasks") renderTasks();
  }

  function renderTasks() {
    var box = $("cg-tasks");
    box.textContent = "";
    if (state.tasksError) box.appendChild(el("p", "cg-err", state.tasksError));
    if (!state.tasksLoaded) { box.appendChild(el("p", "cg-empty", T.loading)); return; }
    if (!state.tasks.length) { box.appendChild(el("p", "cg-empty", T.noTasks)); return; }
    var ul = el("ul", "cg-list");
    state.tasks.forEach(function (c) {
      var li = el("li");
      var b = el("button", "cg-task");
      b.type = "button";
      b.dataset.caseId = String(c.id);
      b.dataset.number = c.number;
      var kind = taskKind(c);
      var top = el("span", "cg-task-top");
      top.appendChild(el("span", "cg-badge cg-badge-" + kind, kind === "verify" ? T.verifyTask : T.checkTask));
      top.appendChild(el("span", "mono", c.number));
      top.appendChild(el("span", "cg-light cg-light-" + (c.light || "green"), T.lights[c.light] || ""));
      b.appendChild(top);
      b.appendChild(el("span", "cg-task-cat", c.category.name));
      b.appendChild(el("span", "cg-task-desc", c.address || c.description));
      b.appendChild(el("span", "cg-muted", T.deadline + " " + when(c.stage_deadline)));
      b.addEventListener("click", function () { openCase(c.id, showTasks); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  function showTasks() {
    P.cancelReport();
    openSheet("cg-tasks", T.tasksTitle);
    renderTasks();
    var pins = state.tasks.filter(function (c) { return c.marker; }).map(function (c) { return c.marker.getLatLng(); });
    if (pins.length && !map.getBounds().contains(L.latLngBounds(pins))) {
      map.fitBounds(L.latLngBounds(pins), { padding: [40, 40], maxZoom: 17 });
    }
  }

  $("cg-tasks-btn").addEventListener("click", showTasks);

  // ---- one case: details and the verify / check form ------------------------------------------
  var taskPhotos = null;

  async function openCase(id, back, notice) {
    P.cancelReport();
    openSheet("cg-case", T.caseTitle, back);
    var box = $("cg-case");
    box.textContent = "";
    box.dataset.caseId = String(id);
    box.appendChild(el("p", "cg-empty", T.loading));
    history.replaceState(null, "", "#case-" + id);
    var r = await call(IC.caseUrl + id);
    if (box.dataset.caseId !== String(id)) return;
    box.textContent = "";
    if (!r.ok) { box.appendChild(el("p", "cg-err", refusalText(r.status, r.body))); return; }
    detailCache[id] = r.body;
    renderCase(box, r.body, back, notice);
  }

  function renderCase(box, c, back, notice) {
    $("cg-sheet-title").textContent = c.number;
    box.dataset.state = c.state;
    box.dataset.version = String(c.version);
    if (notice) box.appendChild(el("p", "cg-err cg-notice", notice));
    var head = el("p", "cg-case-head");
    head.appendChild(el("span", "cg-badge", T.states[c.state] || c.state));
    head.appendChild(el("span", "cg-light cg-light-" + (c.light || "green"), T.lights[c.light] || ""));
    if (c.urgency === "urgent") head.appendChild(el("span", "cg-badge cg-badge-urgent", T.urgent));
    box.appendChild(head);
    box.appendChild(dl([
      [T.category, c.category.name + " (" + (c.kind === "component" ? "C" : "E") + c.category.code + ")"],
      [T.address, c.address],
      [T.cellAt, c.cell_code, "mono"],
      [T.reportedAt, when(c.reported_at)],
      [T.deadline, when(c.stage_deadline)],
    ]));
    box.appendChild(el("h3", null, T.description));
    box.appendChild(el("p", "cg-case-desc", c.description));

    box.appendChild(el("h3", null, T.photos));
    if (c.photos.length) {
      var strip = el("div", "cg-thumbs cg-thumbs-view");
      c.photos.forEach(function (p, i) {
        var a = el("a", "cg-thumb");
        a.href = p.url;
        a.target = "_blank";
        a.rel = "noopener";
        var img = el("img");
        img.src = p.url;
        img.loading = "lazy";
        img.alt = T.photos + " " + (i + 1) + " (" + (T.actions[p.stage] || p.stage) + ")";
        a.appendChild(img);
        strip.appendChild(a);
      });
      box.appendChild(strip);
    } else {
      box.appendChild(el("p", "cg-muted", T.noPhotos));
    }

    box.appendChild(el("h3", null, T.timeline));
    var ol = el("ol", "cg-timeline");
    var events = c.timeline.slice(-6);
    events.forEach(function (ev) {
      var li = el("li");
      li.appendChild(el("span", "cg-muted", when(ev.at) + " "));
      var what = T.actions[ev.action] || ev.action;
      if (ev.data && ev.data.outcome) what += " · " + (T.outcomes[ev.data.outcome] || ev.data.outcome);
      li.appendChild(el("strong", null, what));
      li.appendChild(el("span", "cg-muted", " · " + ev.actor));
      if (ev.note) li.appendChild(el("span", "cg-tl-note", ev.note));
      ol.appendChild(li);
    });
    box.appendChild(ol);

    if (c.location) {
      var show = el("button", "cg-link", T.showOnMap);
      show.type = "button";
      show.addEventListener("click", function () { reveal(L.latLng(c.location.lat, c.location.lon)); });
      box.appendChild(show);
      var at = L.latLng(c.location.lat, c.location.lon);
      // Close enough to see the cell and its surroundings, then clear of the sheet.
      if (map.getZoom() < 16) map.setView(at, 16, { animate: false });
      reveal(at);
    }

    var action = ["verify", "check"].filter(function (a) { return c.allowed_actions.indexOf(a) >= 0; })[0];
    if (action && (!c.assignee || c.assignee === IC.username)) {
      box.appendChild(actionForm(c, action, back));
    } else if (back) {
      box.appendChild(el("p", "cg-muted", T.noActions));
    }
  }

  function actionForm(c, action, back) {
    var outcomes = action === "verify" ? ["confirmed", "not_found"] : ["passed", "failed"];
    var form = el("form", "cg-form cg-action-form");
    form.noValidate = true;
    form.dataset.action = action;
    form.appendChild(el("h3", null, action === "verify" ? T.taskVerify : T.taskCheck));
    var set = el("fieldset", "cg-field cg-outcomes");
    set.appendChild(el("legend", "cg-label", T.outcome));
    outcomes.forEach(function (o) {
      var lab = el("label", "cg-radio cg-outcome-" + o);
      var input = el("input");
      input.type = "radio";
      input.name = "outcome";
      input.value = o;
      lab.appendChild(input);
      lab.appendChild(el("span", null, T.outcomes[o]));
      set.appendChild(lab);
    });
    set.addEventListener("change", function () { outcomeErr.hidden = true; });
    var outcomeErr = el("p", "cg-err");
    outcomeErr.dataset.for = "outcome";
    outcomeErr.hidden = true;
    outcomeErr.setAttribute("role", "alert");
    set.appendChild(outcomeErr);
    form.appendChild(set);

    var noteField = el("div", "cg-field");
    var noteLabel = el("label", "cg-label", T.note);
    noteLabel.htmlFor = "cg-action-note";
    var note = el("textarea");
    note.id = "cg-action-note";
    note.rows = 2;
    note.maxLength = IC.maxDescription;
    noteField.appendChild(noteLabel);
    noteField.appendChild(note);
    noteField.appendChild(errSlot("note"));
    form.appendChild(noteField);

    var photoField = el("div", "cg-field cg-photos");
    photoField.appendChild(el("span", "cg-label", T.photos));
    photoField.appendChild(el("div", "cg-thumbs"));
    var add = el("label", "cg-btn cg-photo-add");
    add.appendChild(el("span", "cg-cam"));
    add.appendChild(document.createTextNode(" " + T.addPhotos));
    var file = el("input", "cg-photo-input");
    file.type = "file";
    file.accept = "image/*";
    file.setAttribute("capture", "environment");
    file.multiple = true;
    add.appendChild(file);
    photoField.appendChild(add);
    photoField.appendChild(el("p", "cg-help cg-photo-count"));
    photoField.appendChild(errSlot("photos"));
    form.appendChild(photoField);
    form.appendChild(errSlot(""));
    taskPhotos = new PhotoPicker(photoField);

    var actions = el("div", "cg-form-actions");
    var submit = el("button", "cg-btn cg-btn-primary", T.submitAction);
    submit.type = "submit";
    actions.appendChild(submit);
    form.appendChild(actions);

    form.addEventListener("submit", async function (e) {
      e.preventDefault();
      clearErrors(form);
      var chosen = form.querySelector("input[name=outcome]:checked");
      if (!chosen) { showError(form, "outcome", T.chooseOutcome); set.querySelector("input").focus(); return; }
      if (navigator.onLine === false) { showError(form, "", T.offlineAction); return; }
      var data = { action: action, version: c.version, outcome: chosen.value };
      if (note.value.trim()) data.note = note.value.trim();
      var body = new FormData();
      body.append("data", JSON.stringify(data));
      taskPhotos.files.forEach(function (f) { body.append("photos", f, f.name); });
      submit.disabled = true;
      submit.textContent = T.sending;
      var r = await call(IC.caseUrl + c.id + "/actions", { method: "POST", body: body });
      submit.disabled = false;
      submit.textContent = T.submitAction;
      if (r.ok) {
        var after = r.body.case;
        toast(fmt(T.actionDone, { number: after.number, state: T.states[after.state] || after.state }));
        delete detailCache[c.id];
        await loadTasks();
        if (back) back(); else openCase(c.id, null);
        return;
      }
      if (r.status === 409 && r.body && r.body.current_version !== undefined) {
        openCase(c.id, back, T.stale);
        return;
      }
      showProblem(form, r.status, r.body);
    });
    return form;
  }

  P.loadTasks = loadTasks;
  P.openCase = openCase;
  P.showTasks = showTasks;
})();
