/* citygrid phone page: the offline queue's button, list and sending (storage and sending rules
 * are offline-queue.js's: window.CitygridQueue). */
(function () {
  "use strict";

  var P = window.citygridPhone;  // the phone page's shared parts (phone/base.js)
  var C = window.citygrid;
  var el = C.el;
  var fmt = C.fmt;
  var IC = P.IC, T = P.T, $ = P.$, state = P.state;
  var sheet = P.sheet, toast = P.toast, refusalText = P.refusalText, when = P.when, openSheet = P.openSheet;

  // ---- the offline queue ----------------------------------------------------------------------
  var queue = new window.CitygridQueue.Queue({
    url: IC.casesUrl,
    user: IC.username,
    onChange: function (counts) {
      state.queue = counts;
      var btn = $("cg-queue-btn");
      var n = counts.pending + counts.refused;
      btn.hidden = n === 0;
      btn.dataset.count = String(counts.pending);
      btn.classList.toggle("cg-queue-refused", counts.refused > 0);
      $("cg-queue-count").textContent = String(counts.pending) + (counts.refused ? " · !" + counts.refused : "");
      if (sheet.dataset.view === "cg-queue") renderQueue();
    },
    onResult: function (item, result) {
      if (result.outcome === "ok") {
        toast(fmt(T.queueSent, { number: result.body.case.number }));
      } else if (result.outcome === "refused") {
        toast(fmt(T.queueRejected, { detail: refusalText(result.status, result.body) }), true);
      }
    },
  });

  async function renderQueue() {
    var box = $("cg-queue");
    box.textContent = "";
    var items = await queue.items();
    if (!items.length) { box.appendChild(el("p", "cg-empty", T.queueEmpty)); return; }
    var ul = el("ul", "cg-list");
    items.forEach(function (item) {
      var li = el("li", "cg-queue-item cg-queue-" + item.status);
      li.appendChild(el("p", "cg-queue-summary", item.summary));
      var meta = when(new Date(item.created).toISOString()) + " · ";
      if (item.status === "refused") {
        meta += T.queueRefused + ": " + refusalText(item.lastStatus || 400, item.lastError);
      } else if (item.attempts) {
        meta += T.queueRetry + " (" + refusalText(item.lastStatus || 0, item.lastError) + ")";
      } else {
        meta += T.queueWaiting;
      }
      li.appendChild(el("p", "cg-muted", meta));
      if (item.status === "refused") {
        var drop = el("button", "cg-btn cg-btn-quiet", T.queueDiscard);
        drop.type = "button";
        drop.addEventListener("click", function () { queue.remove(item.key); });
        li.appendChild(drop);
      }
      ul.appendChild(li);
    });
    box.appendChild(ul);
    if (items.some(function (i) { return i.status === "pending"; })) {
      var now = el("button", "cg-btn cg-btn-primary", T.queueSendNow);
      now.type = "button";
      now.addEventListener("click", function () { flushQueue(); });
      box.appendChild(now);
    }
  }

  $("cg-queue-btn").addEventListener("click", function () {
    openSheet("cg-queue", T.queueTitle);
    renderQueue();
  });

  function flushQueue() {
    return queue.flush().then(function (sent) {
      if (sent) P.loadTasks();
      return sent;
    }, function (err) { state.queueError = String(err); });
  }

  window.addEventListener("online", function () { flushQueue(); P.loadTasks(); });
  setInterval(function () { if (state.queue.pending) flushQueue(); }, P.QUEUE_RETRY_MS);

  P.queue = queue;
  P.flushQueue = flushQueue;
})();
