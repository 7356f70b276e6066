/* Case actions (shared by the case page and the department desk), and the case page itself:
   map with the case's cell, photo viewer, action forms. Plain JS, no build step. */
(function () {
  "use strict";

  var C = window.citygrid;
  var esc = C.esc;  // Leaflet tooltips take HTML: names and codes are text
  var fmt = C.fmt;
  var el = C.el;

  // The inputs each action takes; the server checks them again (and has the last word).
  var SPECS = {
    accept: { note: "optional" },
    reject: { note: "required" },
    send_verify: { note: "optional" },
    verify: { outcomes: ["confirmed", "not_found"], note: "optional", photos: true },
    file: { note: "optional" },
    void: { note: "required" },
    mark_duplicate: { duplicate: true, note: "required" },
    dispatch: { department: true, note: "optional" },
    start: { quick: true },
    feedback: { note: "optional", photos: true },
    request_postpone: { hours: "required", note: "required" },
    request_return: { note: "required" },
    request_suspend: { note: "required" },
    approve: { hours: "postpone", note: "optional" },
    deny: { note: "required" },
    resume: { note: "optional" },
    send_check: { note: "optional" },
    check: { outcomes: ["passed", "failed"], note: "optional", photos: true },
    close: { outcomes: ["normal", "special"], note: "special" },
    urge: { note: "optional" },
  };
  // Buttons in the order work usually goes (the server lists them alphabetically).
  var ORDER = ["start", "feedback", "accept", "send_verify", "verify", "file", "dispatch", "approve", "deny", "resume",
    "urge", "send_check", "check", "close", "request_postpone", "request_suspend", "request_return",
    "mark_duplicate", "reject", "void"];
  // Actions that move work forward are drawn as primary buttons.
  var PRIMARY = { start: 1, feedback: 1, dispatch: 1, accept: 1, file: 1, verify: 1, check: 1, close: 1, approve: 1, send_check: 1 };

  var departmentsCache = null;

  function loadDepartments(url) {
    if (!departmentsCache) {
      departmentsCache = C.api.get(url)
        .then(function (body) { return body.departments.filter(function (d) { return d.active; }); })
        .catch(function (err) { departmentsCache = null; throw err; });
    }
    return departmentsCache;
  }

  /** POST an action: JSON, or multipart (field "data" = JSON, files "photos") when there are photos. */
  function send(url, payload, files) {
    if (!(files && files.length)) return C.api.call(url, { method: "POST", json: payload });
    var form = new FormData();
    form.append("data", JSON.stringify(payload));
    files.forEach(function (f) { form.append("photos", f, f.name); });
    return C.api.call(url, { method: "POST", body: form });
  }

  /** What to tell a person about a refused request (RFC 9457 problem: detail, field). */
  function problemText(result, T) {
    var body = result.body || {};
    if (result.status === 401) return T.signedOut;
    var detail = C.api.problemText(result.status, body);
    if (String(body.type || "").indexOf("stale-version") >= 0) return T.stale + " (" + detail + ")";
    return fmt(T.failed, { detail: detail });
  }

  /**
   * Draw the buttons of the actions a user may take on a case, and open a form for the one chosen.
   * opts: { text, actionUrl, departmentsUrl, maxPhotos, formHost, onDone(caseDetail, event), onOpen(form) }
   */
  function renderActions(buttonHost, kase, opts) {
    var T = opts.text;
    var formHost = opts.formHost || buttonHost;
    buttonHost.textContent = "";
    var actions = (kase.allowed_actions || []).slice().sort(function (a, b) {
      var ia = ORDER.indexOf(a), ib = ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    if (!actions.length) {
      buttonHost.appendChild(el("span", { className: "muted", title: T.noActions, text: opts.compact ? "—" : T.noActions }));
      return;
    }
    actions.forEach(function (action) {
      var button = el("button", {
        type: "button",
        className: "act-btn" + (PRIMARY[action] ? " primary" : ""),
        "data-action": action,
        text: T.actions[action] || action,
      });
      button.addEventListener("click", function () {
        var spec = SPECS[action] || { note: "optional" };
        if (spec.quick) {
          quickAct(button, action, kase, opts);
        } else {
          openForm(formHost, action, kase, opts, button);
        }
      });
      buttonHost.appendChild(button);
    });
  }

  async function quickAct(button, action, kase, opts) {
    var T = opts.text;
    var status = opts.status;
    button.disabled = true;
    if (status) { status.className = opts.statusClass || status.className; status.textContent = T.working; }
    try {
      var result = await send(opts.actionUrl(kase.id), { action: action, version: kase.version });
      if (result.ok) {
        opts.onDone(result.body.case, result.body.event, action);
      } else {
        button.disabled = false;
        opts.onError(problemText(result, T), result);
      }
    } catch (err) {
      button.disabled = false;
      opts.onError(T.network);
    }
  }

  function fieldWrap(label, input, hint) {
    return el("label", { className: "act-field" }, [el("span", { text: label }), input, hint || null]);
  }

  function openForm(host, action, kase, opts, opener) {
    var T = opts.text;
    var spec = SPECS[action] || { note: "optional" };
    var previous = host.querySelector("form.act-form");
    if (previous) previous.remove();
    var uid = "act-" + kase.id + "-" + action;
    var form = el("form", { className: "act-form", "data-action": action, novalidate: true });
    form.appendChild(el("h3", { text: T.actions[action] || action }));

    var pendingKind = kase.pending_request && kase.pending_request.kind;
    if (spec.outcomes) {
      var set = el("fieldset", { className: "act-outcomes" }, [el("legend", { text: T.outcome })]);
      spec.outcomes.forEach(function (outcome, i) {
        set.appendChild(el("label", { className: "act-radio" }, [
          el("input", { type: "radio", name: "outcome", value: outcome, checked: i === 0 }),
          " " + (T.outcomes[outcome] || outcome),
        ]));
      });
      form.appendChild(set);
    }
    if (spec.department) {
      var select = el("select", { name: "department", id: uid + "-department", required: true });
      select.appendChild(el("option", { value: "", text: "…" }));
      form.appendChild(fieldWrap(T.department, select));
      loadDepartments(opts.departmentsUrl).then(function (depts) {
        select.textContent = "";
        depts.forEach(function (d) {
          var suggested = d.code === kase.suggested_department;
          select.appendChild(el("option", {
            value: d.code, selected: suggested,
            text: (opts.zh === false ? (d.name_en || d.name) : d.name) + (suggested ? " (" + T.suggested + ")" : ""),
          }));
        });
      }).catch(function () { showError(form, T.loadDepartmentsFailed); });
    }
    if (spec.hours === "required" || (spec.hours === "postpone" && pendingKind === "postpone")) {
      var hours = el("input", {
        type: "number", name: "hours", min: "0.5", max: "720", step: "0.5", inputmode: "decimal",
        required: spec.hours === "required",
        value: spec.hours === "postpone" && kase.pending_request.hours ? String(kase.pending_request.hours) : null,
      });
      form.appendChild(fieldWrap(T.hours, hours));
    }
    if (spec.duplicate) {
      form.appendChild(fieldWrap(T.duplicateOf, el("input", { type: "text", name: "duplicate_of", required: true })));
    }
    if (spec.note) {
      var needs = spec.note === "required";
      var note = el("textarea", { name: "note", rows: "3", maxlength: "4000", required: needs });
      form.appendChild(fieldWrap(needs ? T.reason : T.note, note));
    }
    if (spec.photos) {
      var photos = el("input", { type: "file", name: "photos", accept: "image/jpeg,image/png", multiple: true });
      form.appendChild(fieldWrap(T.photos, photos));
    }
    form.appendChild(el("p", { className: "act-error", role: "alert" }));
    var submit = el("button", { type: "submit", className: "act-btn primary", text: T.actions[action] || T.submit });
    var cancel = el("button", { type: "button", className: "act-btn", text: T.cancel });
    form.appendChild(el("div", { className: "act-buttons" }, [submit, cancel]));

    cancel.addEventListener("click", function () {
      form.remove();
      if (opts.onClose) opts.onClose();
      if (opener) opener.focus();
    });
    form.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape") cancel.click();
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      submitForm(form, action, kase, opts, submit, spec);
    });
    host.appendChild(form);
    if (opts.onOpen) opts.onOpen(form);
    var first = form.querySelector("input:not([type=radio]), select, textarea, input[type=radio]");
    if (first) first.focus();
  }

  function showError(form, message, field) {
    var box = form.querySelector(".act-error");
    box.textContent = message;
    form.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
    if (field) {
      var input = form.querySelector('[name="' + field + '"]');
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    }
  }

  async function submitForm(form, action, kase, opts, submit, spec) {
    var T = opts.text;
    var payload = { action: action, version: kase.version };
    var outcome = form.querySelector('input[name="outcome"]:checked');
    if (outcome) payload.outcome = outcome.value;
    var note = form.querySelector('[name="note"]');
    if (note && note.value.trim()) payload.note = note.value.trim();
    var noteNeeded = spec.note === "required" || (spec.note === "special" && payload.outcome === "special");
    if (note && noteNeeded && !payload.note) return showError(form, T.noteRequired, "note");
    var dept = form.querySelector('[name="department"]');
    if (dept && dept.value) payload.department = dept.value;
    var hours = form.querySelector('[name="hours"]');
    if (hours && (hours.value !== "" || hours.required)) {
      var h = Number(hours.value);
      if (!(h > 0 && h <= 720)) return showError(form, T.hoursInvalid, "hours");
      payload.hours = h;
    }
    var dup = form.querySelector('[name="duplicate_of"]');
    if (dup) {
      var ref = dup.value.trim();
      payload.duplicate_of = /^\d{1,9}$/.test(ref) ? Number(ref) : ref;
    }
    var files = [];
    var photos = form.querySelector('[name="photos"]');
    if (photos) files = Array.prototype.slice.call(photos.files);
    if (files.length > (opts.maxPhotos || 9)) return showError(form, T.tooManyPhotos, "photos");

    submit.disabled = true;
    showError(form, T.working);
    try {
      var result = await send(opts.actionUrl(kase.id), payload, files);
      if (result.ok) {
        form.remove();
        opts.onDone(result.body.case, result.body.event, action);
        return;
      }
      showError(form, problemText(result, T), C.api.problemField(result.body));
    } catch (err) {
      showError(form, T.network);
    }
    submit.disabled = false;
  }

  window.citygridActions = {
    SPECS: SPECS,
    send: send,
    problemText: problemText,
    render: renderActions,
  };

  // -- the case page ----------------------------------------------------------------------

  var cfgNode = document.getElementById("cg-case-config");
  if (!cfgNode) return;
  var cfg = JSON.parse(cfgNode.textContent);
  var T = cfg.text;
  var FLASH_KEY = "citygrid.case.flash";

  var message = document.getElementById("case-message");
  var flash = sessionStorage.getItem(FLASH_KEY);
  if (flash) {
    sessionStorage.removeItem(FLASH_KEY);
    message.className = "case-message ok";
    message.textContent = flash;
  }

  renderActions(document.getElementById("case-actions"), cfg.case, {
    text: T,
    zh: cfg.zh,
    actionUrl: function () { return cfg.actionUrl; },
    departmentsUrl: cfg.departmentsUrl,
    maxPhotos: cfg.maxPhotos,
    status: message,
    statusClass: "case-message",
    onDone: function (detail, _event, action) {
      // Reload, so every part of the page (timeline, photos, deadlines) shows the new state.
      sessionStorage.setItem(FLASH_KEY, fmt(T.done, {
        action: T.actions[action] || action, number: detail.number, state: T.states[detail.state] || detail.state,
      }));
      window.location.reload();
    },
    onError: function (text) {
      message.className = "case-message error";
      message.textContent = text;
    },
  });

  // Map: the case point over its unit grid cell (and the neighbours, faintly).
  var state = { cellLoaded: false, error: null };
  window.citygridCase = { state: state, config: cfg };
  if (window.L) {
    var loc = cfg.case.location;
    var map = L.map("case-map", { zoomControl: true, attributionControl: Boolean(cfg.tileUrl) });
    state.map = map;
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { attribution: cfg.tileAttribution, maxZoom: 19 }).addTo(map);
    }
    map.setView([loc.lat, loc.lon], 17);
    // The cameras listed beside the map (those that see the case): a marker each, the reporting one ringed blue.
    state.cameraMarkers = 0;
    Array.prototype.forEach.call(document.querySelectorAll("#case-cameras li[data-lat]"), function (li) {
      var reported = li.classList.contains("reported");
      L.circleMarker([Number(li.dataset.lat), Number(li.dataset.lon)], {
        radius: 6, color: reported ? "#0b57a4" : "#fff", weight: 2, fillColor: "#37474f", fillOpacity: 0.9,
      }).bindTooltip(esc(li.dataset.name)).addTo(map);
      state.cameraMarkers += 1;
    });
    var point = L.circleMarker([loc.lat, loc.lon], {
      radius: 8, color: "#fff", weight: 2, fillColor: "#c2185b", fillOpacity: 1,
    });
    var params = new URLSearchParams({ bbox: cfg.cellBox.map(function (v) { return v.toFixed(6); }).join(","), limit: "200" });
    C.api.get(cfg.cellsUrl + "?" + params.toString(), { headers: { Accept: "application/geo+json, application/json" } })
      .then(function (fc) {
        var own = null;
        L.geoJSON(fc, {
          style: function (f) {
            var mine = f.properties.code === cfg.case.cell_code;
            return mine
              ? { color: "#c2185b", weight: 3, fillColor: "#f8bbd0", fillOpacity: 0.35 }
              : { color: "#7b8794", weight: 1, fillOpacity: 0.04, dashArray: "3 3" };
          },
          onEachFeature: function (f, layer) {
            layer.bindTooltip(esc(f.properties.code));
            if (f.properties.code === cfg.case.cell_code) own = layer;
          },
        }).addTo(map);
        if (own) {
          own.bringToFront();
          map.fitBounds(own.getBounds(), { padding: [24, 24], maxZoom: 18 });
        }
        point.addTo(map).bringToFront();
        state.cellLoaded = Boolean(own);
      })
      .catch(function (err) {
        point.addTo(map);
        state.error = String(err);
        document.getElementById("case-map-note").textContent = T.cellFailed;
      });
  }

  // Photos: click (or Enter) on a thumbnail opens it large; arrow keys move between photos.
  var dialog = document.getElementById("photo-dialog");
  var big = document.getElementById("photo-dialog-img");
  var caption = document.getElementById("photo-dialog-caption");
  var thumbs = Array.prototype.slice.call(document.querySelectorAll("a.thumb"));
  var current = -1;

  function show(index) {
    current = (index + thumbs.length) % thumbs.length;
    var link = thumbs[current];
    big.src = link.href;
    big.alt = link.querySelector("img").alt;
    caption.textContent = big.alt + " · " + fmt(T.photo, { n: current + 1, total: thumbs.length });
  }

  if (dialog && typeof dialog.showModal === "function") {
    thumbs.forEach(function (link, i) {
      link.addEventListener("click", function (ev) {
        ev.preventDefault();
        show(i);
        dialog.showModal();
      });
    });
    dialog.addEventListener("keydown", function (ev) {
      if (ev.key === "ArrowRight") show(current + 1);
      if (ev.key === "ArrowLeft") show(current - 1);
    });
    dialog.addEventListener("click", function (ev) {
      if (ev.target === dialog) dialog.close();
    });
    dialog.addEventListener("close", function () {
      if (thumbs[current]) thumbs[current].focus();
    });
  }
})();
