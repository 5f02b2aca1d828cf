/* The operator console's few behaviours, no library: a form's answer shown next to its button (a passing test
   of an integration that is not on offers Activate), and a running sync job's counts refreshed every two
   seconds until it finishes. */
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
          if (result.activate) { target.appendChild(activateOffer(form, result)); }
        })
        .catch(function () { target.className = "inline-result failed"; target.textContent = "No answer."; });
    });
  }

  // A form that posts to the activate URL with the test form's CSRF token; the page comes back with the outcome.
  function activateOffer(form, result) {
    var offer = document.createElement("form");
    offer.method = "post";
    offer.action = result.activate;
    offer.className = "activate-offer";
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").cloneNode();
    var button = document.createElement("input");
    button.type = "submit";
    button.className = "button default";
    button.id = "activate-offer";
    button.value = "Activate (it is " + result.status + ")";
    offer.appendChild(token);
    offer.appendChild(button);
    return offer;
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
