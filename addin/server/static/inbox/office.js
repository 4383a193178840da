// The 县政务公开办 page: login, the live status board, each unit's history, code resets,
// returning a submission, 汇总. Every request carries the X-Nianbao header (a cross-site form
// cannot), and every text goes in with textContent.
"use strict";

(() => {
  const base = document.body.dataset.base;
  const { $, el } = window.nbDom;
  const REFRESH_MS = 30000;

  function showError(text) {
    const node = $("nb-error");
    if (!node) return;
    node.textContent = text || "";
    node.hidden = !text;
  }

  async function call(method, path, fields) {
    const init = { method, credentials: "same-origin", headers: { "X-Nianbao": "1" } };
    if (fields) {
      const form = new FormData();
      for (const [key, value] of Object.entries(fields)) form.append(key, value);
      init.body = form;
    }
    const response = await fetch(base + path, init);
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (response.status === 401) {
      window.location.reload();
      throw new Error("登录已过期，请重新登录。");
    }
    if (!response.ok) throw new Error((body && body.error) || `服务器返回 ${response.status}`);
    return body;
  }

  async function login(event) {
    event.preventDefault();
    showError("");
    try {
      await call("POST", "/office/login", { password: $("nb-password").value });
      window.location.reload();
    } catch (e) {
      showError(e.message);
    }
  }

  function statusCell(row) {
    const td = el("td", row.status_label, "nb-status nb-status-" + row.status);
    td.dataset.status = row.status;
    return td;
  }

  function lastText(row) {
    if (!row.last) return "";
    const s = row.last;
    let text = s.received_at;
    if (row.status !== "submitted" && s.state_at && s.state_at !== s.received_at) text += `（${s.state_label} ${s.state_at}）`;
    return text;
  }

  async function showHistory(row, tr) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("nb-history")) { next.remove(); return; }
    try {
      const answer = await call("GET", `/office/history/${row.unit_id}`);
      const holder = document.createElement("tr");
      holder.className = "nb-history";
      const td = el("td");
      td.colSpan = 7;
      if (!answer.items.length) td.appendChild(el("p", "还没有报送记录。", "nb-note"));
      else {
        const table = el("table", null, "nb-table");
        const head = table.createTHead().insertRow();
        for (const title of ["回执号", "接收时间", "状态", "校验结论", "原因 / 备注", "SHA-256", "文件"]) head.appendChild(el("th", title));
        const body = table.createTBody();
        for (const s of answer.items) {
          const r = body.insertRow();
          r.dataset.state = s.state;
          const receipt = el("a", s.number);
          receipt.href = s.receipt_url;
          receipt.target = "_blank";
          receipt.rel = "noopener";
          const number = el("td");
          number.appendChild(receipt);
          r.appendChild(number);
          r.appendChild(el("td", s.received_at));
          r.appendChild(el("td", s.state_label + (s.state_at && s.state !== "current" && s.state !== "refused" ? `（${s.state_at}）` : "")));
          r.appendChild(el("td", s.verdict));
          r.appendChild(el("td", s.reason || s.state_note));
          r.appendChild(el("td", s.sha256.slice(0, 16) + "…", "nb-mono"));
          const file = el("td");
          if (s.file_url) {
            const link = el("a", "下载");
            link.href = s.file_url;
            file.appendChild(link);
          } else {
            file.textContent = "未保存（无法读取）";
          }
          r.appendChild(file);
        }
        td.appendChild(table);
      }
      holder.appendChild(td);
      tr.after(holder);
    } catch (e) {
      showError(e.message);
    }
  }

  async function resetCode(row) {
    if (!window.confirm(`为“${row.unit}”重新生成报送码？原报送码立即失效。`)) return;
    try {
      const answer = await call("POST", `/office/reset/${row.unit_id}`, {});
      const box = $("nb-code-box");
      box.replaceChildren(el("h3", `“${answer.unit}”的新报送码`),
        el("p", answer.code, "nb-mono nb-newcode"),
        el("p", "报送码只显示这一次（服务器上只保存其摘要），请记下或打印后交给该单位。", "nb-note"));
      box.hidden = false;
      box.querySelector(".nb-newcode").id = "nb-new-code";
    } catch (e) {
      showError(e.message);
    }
  }

  async function returnFile(row) {
    const reason = window.prompt(`退回“${row.unit}”在用的报送文件。请写明退回原因（单位会在名单状态中看到“有错误被退回”）：`, "");
    if (reason === null) return;
    try {
      await call("POST", `/office/return/${row.last.id}`, { reason });
      await refresh();
    } catch (e) {
      showError(e.message);
    }
  }

  function renderBoard(answer) {
    const counts = $("nb-counts");
    counts.replaceChildren();
    counts.appendChild(el("span", `共 ${answer.total} 个单位`));
    for (const [key, label] of Object.entries(answer.labels)) {
      const span = el("span", `${label} ${answer.counts[key]}`, "nb-status-" + key);
      span.dataset.status = key;
      counts.appendChild(span);
    }
    $("nb-updated").textContent = `更新于 ${answer.at}` + (answer.year ? ` · ${answer.year} 年度` : "");
    const body = $("nb-board").tBodies[0];
    body.replaceChildren();
    answer.rows.forEach((row, i) => {
      const tr = body.insertRow();
      tr.dataset.unit = row.unit;
      tr.dataset.unitId = row.unit_id;
      tr.appendChild(el("td", i + 1, "nb-num"));
      tr.appendChild(el("td", row.unit));
      tr.appendChild(statusCell(row));
      tr.appendChild(el("td", lastText(row)));
      tr.appendChild(el("td", row.last ? `${row.last.hard} / ${row.last.soft}` : "", "nb-num"));
      tr.appendChild(el("td", row.count || "", "nb-num"));
      const actions = el("td", null, "nb-row-actions nb-noprint");
      const history = el("button", "历史");
      history.type = "button";
      history.className = "nb-history-button";
      history.addEventListener("click", () => showHistory(row, tr));
      const reset = el("button", "重置报送码");
      reset.type = "button";
      reset.className = "nb-reset-button";
      reset.addEventListener("click", () => resetCode(row));
      actions.append(history, reset);
      if (row.status === "submitted") {
        const back = el("button", "退回");
        back.type = "button";
        back.className = "nb-return-button";
        back.addEventListener("click", () => returnFile(row));
        actions.appendChild(back);
      }
      tr.appendChild(actions);
    });
    document.body.dataset.boardAt = answer.at;
  }

  async function refresh() {
    try {
      renderBoard(await call("GET", "/office/board"));
      showError("");
    } catch (e) {
      showError(e.message);
    }
  }

  async function consolidate() {
    const button = $("nb-consolidate");
    const box = $("nb-summary");
    button.disabled = true;
    box.hidden = false;
    box.className = "nb-summary";
    box.replaceChildren(el("p", "正在汇总（读取并校验收文夹中的全部在用文件），请稍候……"));
    try {
      const answer = await call("POST", "/office/consolidate", {});
      box.replaceChildren(el("h3", "汇总完成"));
      for (const line of answer.lines) box.appendChild(el("p", line));
      const links = el("p", null, "nb-actions");
      const xlsx = el("a", "下载汇总表", "nb-button");
      xlsx.href = answer.xlsx_url;
      xlsx.id = "nb-summary-xlsx";
      links.appendChild(xlsx);
      if (answer.pdf_url) {
        const pdf = el("a", "下载汇总表 PDF", "nb-button");
        pdf.href = answer.pdf_url;
        pdf.id = "nb-summary-pdf";
        links.append(" ", pdf);
      }
      box.appendChild(links);
      if (answer.pdf_note) box.appendChild(el("p", answer.pdf_note, "nb-note"));
      document.body.dataset.summary = "done";
    } catch (e) {
      box.className = "nb-summary nb-failed";
      box.replaceChildren(el("p", e.message, "nb-alert"));
      document.body.dataset.summary = "failed";
    } finally {
      button.disabled = false;
    }
  }

  async function logout() {
    try { await call("POST", "/office/logout", {}); } catch (e) { /* gone already */ }
    window.location.reload();
  }

  window.addEventListener("DOMContentLoaded", () => {
    if ($("nb-login-form")) {
      $("nb-login-form").addEventListener("submit", login);
    }
    if ($("nb-board")) {
      $("nb-refresh").addEventListener("click", refresh);
      $("nb-consolidate").addEventListener("click", consolidate);
      $("nb-print").addEventListener("click", () => window.print());
      $("nb-logout").addEventListener("click", logout);
      refresh();
      setInterval(refresh, REFRESH_MS);
    }
    document.body.dataset.ready = "1";
  });
})();
