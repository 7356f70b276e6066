/* citygrid phone page: my position (GPS watch, sent to the server while on duty) and the duty button. */
(function () {
  "use strict";

  var P = window.citygridPhone;  // the phone page's shared parts (phone/base.js)
  var C = window.citygrid;
  var fmt = C.fmt;
  var IC = P.IC, T = P.T, $ = P.$, state = P.state;
  var CM = P.CM, call = P.call, toast = P.toast, refusalText = P.refusalText;

  // ---- my position and duty -------------------------------------------------------------------
  var watchId = null;
  var lastSent = null;   // {latlng, at}
  var sendingPosition = false;

  function startWatch() {
    if (watchId !== null || !navigator.geolocation) return;
    watchId = navigator.geolocation.watchPosition(onPosition, function (err) {
      state.gpsError = err.code;
      if (err.code === err.PERMISSION_DENIED) {
        navigator.geolocation.clearWatch(watchId);
        watchId = null;
      }
    }, { enableHighAccuracy: true, maximumAge: 10000, timeout: 30000 });
  }

  function onPosition(p) {
    var latlng = L.latLng(p.coords.latitude, p.coords.longitude);
    state.position = { lat: latlng.lat, lon: latlng.lng, accuracy: p.coords.accuracy, at: Date.now() };
    CM.setMyPosition(latlng, p.coords.accuracy,
      T.myPosition + " · " + fmt(T.accuracy, { m: Math.round(p.coords.accuracy) }));
    maybeSendPosition();
  }

  /* On duty, the position goes to the server every ~30 s when it moved more than ~20 m. */
  function maybeSendPosition() {
    if (!state.onDuty || !state.position || sendingPosition || navigator.onLine === false) return;
    var here = L.latLng(state.position.lat, state.position.lon);
    if (lastSent) {
      if (Date.now() - lastSent.at < IC.positionIntervalS * 1000) return;
      if (here.distanceTo(lastSent.latlng) <= IC.positionMinMoveM) return;
    }
    postPosition(here, undefined);
  }

  async function postPosition(latlng, onDuty) {
    sendingPosition = true;
    var body = { lon: +latlng.lng.toFixed(7), lat: +latlng.lat.toFixed(7) };
    if (onDuty !== undefined) body.on_duty = onDuty;
    try {
      var r = await call(IC.positionUrl, { method: "POST", json: body });
      if (r.ok) {
        lastSent = { latlng: latlng, at: Date.now() };
        state.positionsSent += 1;
      }
      return r;
    } finally {
      sendingPosition = false;
    }
  }
  setInterval(maybeSendPosition, 10000);

  /* A fresh fix: the watched one if recent, else one asked for now. */
  function currentPosition() {
    if (state.position && Date.now() - state.position.at < P.GPS_FRESH_MS) {
      return Promise.resolve(L.latLng(state.position.lat, state.position.lon));
    }
    return new Promise(function (resolve, reject) {
      if (!navigator.geolocation) { reject({ code: 2 }); return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        onPosition(p);
        startWatch();
        resolve(L.latLng(p.coords.latitude, p.coords.longitude));
      }, reject, { enableHighAccuracy: true, maximumAge: 10000, timeout: 15000 });
    });
  }

  function showDuty() {
    var btn = $("cg-duty");
    btn.setAttribute("aria-pressed", state.onDuty ? "true" : "false");
    $("cg-duty-label").textContent = state.onDuty ? T.onDuty : T.offDuty;
    btn.title = state.onDuty ? T.dutyOn : T.dutyOff;
  }

  $("cg-duty").addEventListener("click", async function () {
    var btn = this;
    var want = !state.onDuty;
    btn.disabled = true;
    try {
      var here;
      try {
        here = await currentPosition();
      } catch (err) {
        toast(T.dutyNeedsGps, true);
        return;
      }
      var r = await postPosition(here, want);
      if (!r.ok) { toast(T.dutyFailed + " " + refusalText(r.status, r.body), true); return; }
      state.onDuty = !!r.body.on_duty;
      showDuty();
      toast(state.onDuty ? T.dutyOn : T.dutyOff);
    } finally {
      btn.disabled = false;
    }
  });
  showDuty();

  // Watch the position right away when allowed (or when on duty, which needs it).
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "geolocation" }).then(function (p) {
      if (p.state === "granted" || (p.state === "prompt" && state.onDuty)) startWatch();
    }, function () { if (state.onDuty) startWatch(); });
  } else if (state.onDuty) {
    startWatch();
  }

  P.currentPosition = currentPosition;
})();
