/* The operator console's few behaviours, no library: a form's answer shown next to its button, and a running
   sync job's counts refreshed every two seconds until it finishes. */
(function () {
  "use strict";

  function inlineResult(form) {
    var target = document.getElementById(form.dataset.inlineResult);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      target.className = "inline-result";
      target.textContent = "Testing…";
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (result) {
          target.className = "inline-result " + (result.ok ? "ok" : "failed");
          target.textContent = (result.ok ? "Connection OK in " + result.latency_ms + " ms. " : "Connection failed. ")
            + (result.detail || "");
        })
        .catch(function () { target.className = "inline-result failed"; target.textContent = "No answer."; });
    });
  }

  function progress(panel) {
    var url = panel.dataset.progressUrl;
    function set(name, value) {
      panel.querySelectorAll("[data-field='" + name + "']").forEach(function (node) {
        node.textContent = value === null || value === undefined || value === "" ? "–" : value;
      });
    }
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (job) {
          Object.keys(job).forEach(function (key) { set(key, job[key]); });
          panel.dataset.status = job.status;
          if (job.finished) {
            panel.querySelectorAll(".while-active").forEach(function (node) { node.hidden = true; });
            // The rest of the page (status, counts, cursor) was rendered while the job ran: show its final record.
            window.setTimeout(function () { window.location.reload(); }, 1500);
          } else {
            window.setTimeout(poll, 2000);
          }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    if (panel.dataset.finished !== "true") { window.setTimeout(poll, 1000); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-inline-result]").forEach(inlineResult);
    document.querySelectorAll("[data-progress-url]").forEach(progress);
  });
})();
