// The batch pages: upload progress on the upload form, and a batch page that follows its triage by
// polling /batches/{id}/progress (the database's state) until every file is done or failed.
(function () {
  "use strict";

  var STATE_NAMES = { running: "处理中", queued: "排队中", stalled: "已中断，等待继续", done: "已完成" };
  var FILE_STATUS_NAMES = { received: "待处理", processing: "处理中", done: "已完成", failed: "失败" };
  var WITHHELD_ERROR = "原因仅上传人和科室负责人可见";

  function byId(id) { return document.getElementById(id); }
  function setText(id, value) { var el = byId(id); if (el) { el.textContent = String(value); } }

  // -- upload form: show how much of the upload has been sent ------------------------------------
  var form = byId("upload-form");
  if (form && window.FormData && window.XMLHttpRequest) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      var status = byId("upload-status");
      var bar = byId("upload-bar");
      byId("upload").disabled = true;
      if (status) { status.hidden = false; }
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && bar) {
          var percent = Math.round((e.loaded / e.total) * 100);
          bar.value = percent;
          setText("upload-percent", percent + "%");
        }
      });
      xhr.addEventListener("load", function () {
        var target = xhr.responseURL || "";
        if (/\/batches\/\d+$/.test(target)) {
          window.location.assign(target);
          return;
        }
        // An answer that is not a new batch (errors, files uploaded before): show the page it is.
        document.open();
        document.write(xhr.responseText);
        document.close();
      });
      xhr.addEventListener("error", function () {
        byId("upload").disabled = false;
        setText("upload-percent", "上传失败，请检查网络后重试");
      });
      xhr.open("POST", form.action);
      xhr.send(new FormData(form));
    });
  }

  // -- batch page: follow the progress ------------------------------------------------------------
  var root = byId("batch");
  if (!root) { return; }
  var url = root.getAttribute("data-progress-url");

  function lettersCell(cell, file) {
    while (cell.firstChild) { cell.removeChild(cell.firstChild); }
    file.letters.forEach(function (letter, i) {
      if (i > 0) { cell.appendChild(document.createElement("br")); }
      var a = document.createElement("a");
      a.href = "/letters/" + encodeURIComponent(letter.case_number);
      a.textContent = letter.case_number;
      cell.appendChild(a);
      if (letter.needs_review) {
        var tag = document.createElement("span");
        tag.className = "tag review";
        tag.textContent = "待人工核查";
        cell.appendChild(document.createTextNode(" "));
        cell.appendChild(tag);
      }
    });
    if (file.hidden_letters) {
      if (file.letters.length) { cell.appendChild(document.createElement("br")); }
      var conf = document.createElement("span");
      conf.className = "tag conf";
      conf.textContent = "保密 " + file.hidden_letters + " 件";
      cell.appendChild(conf);
    }
  }

  function renderFiles(files) {
    var body = byId("file-rows");
    if (!body) { return; }
    while (body.firstChild) { body.removeChild(body.firstChild); }
    files.forEach(function (file) {
      var row = document.createElement("tr");
      row.setAttribute("data-status", file.status);
      if (file.status === "failed") { row.className = "overdue"; }
      // A withheld name comes as "保密文件 N"; its failure message would quote the name.
      var error = file.name_withheld && file.status === "failed" ? WITHHELD_ERROR : (file.error || "");
      var cells = [String(file.file_id), file.name, FILE_STATUS_NAMES[file.status] || file.status,
        file.pages === null ? "—" : String(file.pages), null, error];
      var classes = ["", file.name_withheld ? "name withheld" : "name", "status", "", "letters", "error"];
      cells.forEach(function (text, i) {
        var td = document.createElement("td");
        if (classes[i]) { td.className = classes[i]; }
        if (text === null) { lettersCell(td, file); } else { td.textContent = text; }
        if (i === 5 && text === WITHHELD_ERROR) { td.className = "error hint"; }
        row.appendChild(td);
      });
      body.appendChild(row);
    });
  }

  // The same words as batch.html.
  function etaText(p) {
    if (p.eta_seconds === null) { return p.state === "running" ? "· 第一个文件读完后估算剩余时间" : ""; }
    if (p.eta_seconds < 60) { return "· 预计还需不到 1 分钟"; }
    return "· 预计还需约 " + Math.ceil(p.eta_seconds / 60) + " 分钟";
  }

  function show(p) {
    root.setAttribute("data-state", p.state);
    setText("state", STATE_NAMES[p.state] || p.state);
    var processed = p.done + p.failed;
    setText("count-processed", processed);
    setText("count-total", p.files);
    setText("percent", Math.round((100 * processed) / Math.max(p.files, 1)));
    setText("rate", p.files_per_minute ? "· 每分钟约 " + p.files_per_minute + " 个文件" : "");
    setText("eta", etaText(p));
    var bar = byId("bar");
    if (bar) { bar.max = Math.max(p.files, 1); bar.value = processed; }
    setText("count-files", p.files);
    setText("count-done", p.done);
    setText("count-failed", p.failed);
    setText("count-pending", p.pending);
    setText("count-letters", p.letters);
    setText("count-review", p.needs_review);
    setText("count-hidden", p.hidden_letters);
    var note = byId("hidden-note");
    if (note) { note.hidden = !p.hidden_letters; }
    var resume = byId("resume-form");
    if (resume) { resume.hidden = p.state !== "stalled"; }
    renderFiles(p.file_states);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (p) {
        show(p);
        if (p.state !== "done") { window.setTimeout(poll, 2000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  if (root.getAttribute("data-state") !== "done") { window.setTimeout(poll, 1000); }
}());
