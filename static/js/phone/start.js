/* citygrid phone page: start-up, once every module has loaded (the case in the address, my tasks,
 * the categories, the offline queue) and what the browser tests read (window.citygridInspector). */
(function () {
  "use strict";

  var P = window.citygridPhone;

  P.queue.changed().then(P.flushQueue);

  function fromHash() {
    var m = /^#case-(\d+)$/.exec(location.hash);
    if (m) P.openCase(+m[1], null);
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
  P.loadTasks();
  setInterval(function () { if (navigator.onLine !== false && document.visibilityState === "visible") P.loadTasks(); },
    P.TASK_REFRESH_MS);
  // Fetched early so that a report made offline later still has its categories.
  P.loadCategories().catch(function () { /* shown when the form opens */ });

  window.citygridInspector = {
    state: P.state, queue: P.queue, flush: P.flushQueue, loadTasks: P.loadTasks, openCase: P.openCase,
    startReport: P.startReport,
  };
})();
