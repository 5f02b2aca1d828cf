/* The operator console's few behaviours, no library: a form's answer shown next to its button (a passing test
   of an integration that is not on offers Activate); a running sync job's page kept current (its live panel
   every two seconds, every other field whenever the job moved), without reloading; and the add-integration form
   showing only the secret inputs the chosen provider uses. */
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

  /* The page as the server renders it now: every read-only field's value, the title and the breadcrumbs are
     swapped in place (matched by Django's `field-<name>` row classes), so nothing on the page shows an old value. */
  function refreshFields(done) {
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        fresh.querySelectorAll("#content-main .form-row").forEach(function (row) {
          var name = Array.prototype.find.call(row.classList, function (c) { return c.indexOf("field-") === 0; });
          if (!name) { return; }
          var mine = document.querySelector("#content-main .form-row." + name);
          if (!mine) { return; }
          var values = row.querySelectorAll(".readonly"), current = mine.querySelectorAll(".readonly");
          for (var i = 0; i < values.length && i < current.length; i++) {
            if (current[i].innerHTML !== values[i].innerHTML) { current[i].innerHTML = values[i].innerHTML; }
          }
        });
        ["#content > h2", ".breadcrumbs"].forEach(function (selector) {
          var node = fresh.querySelector(selector), mine = document.querySelector(selector);
          if (node && mine) { mine.innerHTML = node.innerHTML; }
        });
        if (fresh.title) { document.title = fresh.title; }
        if (done) { done(); }
      })
      .catch(function () { if (done) { done(); } });
  }

  function progress(panel) {
    var url = panel.dataset.progressUrl, seen = null;
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
          set("status", job.status_label);
          var moved = [job.status, job.records_processed, job.pages_processed, job.cancel_requested,
                       job.heartbeat_at, job.updated_at, job.error_message].join("|");
          var changed = seen !== null && moved !== seen;
          seen = moved;
          if (job.finished) {
            panel.querySelectorAll(".while-active").forEach(function (node) { node.hidden = true; });
            // The last re-read is done before the panel says so: a reader (or a test) waiting for the
            // finished status then finds every field final.
            refreshFields(function () { panel.dataset.status = job.status; panel.dataset.finished = "true"; });
            return;
          }
          panel.dataset.status = job.status;
          if (changed) { refreshFields(); }
          window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    if (panel.dataset.finished !== "true") { window.setTimeout(poll, 1000); }
  }

  /* Add or change an integration: the secret inputs the chosen provider reads (data-secrets on the provider
     select: {provider: [field, ...]}), plus any that holds a stored value (data-stored), so it can be cleared.
     No provider chosen yet: all of them. */
  function providerSecrets(select) {
    var used = JSON.parse(select.dataset.secrets || "{}"), stored = JSON.parse(select.dataset.stored || "[]");
    var names = ["api_key", "api_secret", "webhook_secret", "access_token", "refresh_token", "credentials"];
    function show() {
      var wanted = used[select.value];
      names.forEach(function (name) {
        var row = document.querySelector(".form-row.field-" + name + "_new");
        if (!row) { return; }
        row.hidden = !(!wanted || wanted.indexOf(name) !== -1 || stored.indexOf(name) !== -1);
      });
    }
    select.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-inline-result]").forEach(inlineResult);
    document.querySelectorAll("[data-progress-url]").forEach(progress);
    document.querySelectorAll("select[data-secrets]").forEach(providerSecrets);
  });
})();
