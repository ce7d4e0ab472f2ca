// Progress bars of background jobs (SPEC §14): poll each queued or running job's JSON
// every second and move its bar; offer the file once done.
(function () {
  "use strict";
  // The words in the page's language (templates/jobs/_jobs.html, data-words).
  function words(item) {
    var holder = item.closest("[data-words]");
    try { return holder ? JSON.parse(holder.dataset.words) : {}; } catch (e) { return {}; }
  }
  function fill(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }
  function update(item, job) {
    var w = words(item);
    item.dataset.status = job.status;
    var bar = item.querySelector("[data-role=bar]");
    var inner = bar.querySelector(".progress-bar");
    bar.setAttribute("aria-valuenow", job.progress);
    inner.style.width = job.progress + "%";
    inner.textContent = job.progress + "%";
    item.querySelector("[data-role=status]").textContent = w[job.status] || job.status;
    item.querySelector("[data-role=rows]").textContent = job.rows_total
      ? fill(w.rows_of || "%(done)s of %(total)s rows", {done: job.rows_done, total: job.rows_total})
      : fill(w.rows || "%(done)s rows", {done: job.rows_done});
    if (job.status === "failed") {
      inner.classList.add("bg-danger");
      var err = item.querySelector("[data-role=error]");
      if (!err) {
        err = document.createElement("span");
        err.className = "text-danger";
        err.dataset.role = "error";
        item.querySelector("[data-role=detail]").appendChild(err);
      }
      err.textContent = job.error || w.failed || "failed";
    }
    // What the job says it is doing (a step with no rows: the file being saved), then
    // its outcome.
    var summary = item.querySelector("[data-role=summary]");
    if (job.summary) {
      if (!summary) {
        summary = document.createElement("span");
        summary.className = "text-muted ms-2";
        summary.dataset.role = "summary";
        item.querySelector("[data-role=detail]").appendChild(summary);
      }
      summary.textContent = job.summary;
    } else if (summary) {
      summary.remove();
    }
    var link = item.querySelector("[data-role=download]");
    if (job.status === "done" && job.file) {
      link.href = job.file;
      link.classList.remove("d-none");
      if (job.filename) {
        link.lastChild.textContent = " " + fill(w.download || "Download %(file)s", {file: job.filename});
      }
    }
  }
  function poll(item) {
    fetch(item.dataset.jobUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        update(item, job);
        if (job.status === "queued" || job.status === "running") {
          setTimeout(function () { poll(item); }, 1000);
        }
      })
      .catch(function () { setTimeout(function () { poll(item); }, 3000); });
  }
  document.querySelectorAll("[data-job-url]").forEach(function (item) {
    if (item.dataset.status === "queued" || item.dataset.status === "running") { poll(item); }
  });
})();
