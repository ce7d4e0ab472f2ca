// Progress bars of background jobs (SPEC §14): poll each queued or running job's JSON
// every second and move its bar; offer the file once done.
(function () {
  "use strict";
  function update(item, job) {
    item.dataset.status = job.status;
    var bar = item.querySelector("[data-role=bar]");
    var inner = bar.querySelector(".progress-bar");
    bar.setAttribute("aria-valuenow", job.progress);
    inner.style.width = job.progress + "%";
    inner.textContent = job.progress + "%";
    item.querySelector("[data-role=status]").textContent = job.status;
    item.querySelector("[data-role=rows]").textContent =
      job.rows_done + (job.rows_total ? " of " + job.rows_total : "") + " rows";
    if (job.status === "failed") {
      inner.classList.add("bg-danger");
      var err = item.querySelector("[data-role=error]");
      if (!err) {
        err = document.createElement("span");
        err.className = "text-danger";
        err.dataset.role = "error";
        item.querySelector("[data-role=detail]").appendChild(err);
      }
      err.textContent = job.error || "failed";
    }
    var link = item.querySelector("[data-role=download]");
    if (job.status === "done" && job.file) {
      link.href = job.file;
      link.classList.remove("d-none");
      if (job.filename) { link.lastChild.textContent = " Download " + job.filename; }
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
