// The 单位 page: check the chosen workbook, list the findings by table, download the marked
// workbook and the PDF, show the data paragraph, submit with the code, show the receipt.
// Every text from the server or the file goes in with textContent, never as HTML.
"use strict";

(() => {
  const base = document.body.dataset.base;
  const { $, el } = window.nbDom;
  let chosen = null; // the File the clerk picked; sent again for each download (nothing is kept)
  let checked = null; // the last check's answer

  function say(id, text) {
    const node = $(id);
    if (node) node.textContent = text || "";
  }

  function showError(text) {
    const node = $("nb-error");
    node.textContent = text || "";
    node.hidden = !text;
  }

  async function post(path, fields) {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) {
      if (value instanceof File) form.append(key, value, value.name);
      else form.append(key, value);
    }
    const response = await fetch(base + path, { method: "POST", body: form, credentials: "same-origin" });
    return response;
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      return body.error || `服务器返回 ${response.status}`;
    } catch (e) {
      return `服务器返回 ${response.status}，请稍后重试。`;
    }
  }

  function fileNameOf(response, fallback) {
    const header = response.headers.get("Content-Disposition") || "";
    const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
    return star ? decodeURIComponent(star[1]) : fallback;
  }

  function renderCheck(answer) {
    checked = answer;
    $("nb-result").hidden = false;
    const verdict = $("nb-verdict");
    verdict.textContent = (answer.unit ? answer.unit + "：" : "") + answer.verdict;
    verdict.className = "nb-verdict " + (answer.error || answer.hard ? "nb-bad" : answer.open_soft ? "" : "nb-ok");
    const groups = $("nb-groups");
    groups.replaceChildren();
    for (const group of answer.groups) {
      const box = el("div", null, "nb-group");
      box.dataset.sheet = group.sheet;
      box.appendChild(el("h3", `${group.title}（${group.findings.length} 处）`));
      const table = el("table", null, "nb-table nb-findings");
      const head = table.createTHead().insertRow();
      for (const title of ["级别", "规则", "单元格", "行", "列", "填写值", "应为", "问题说明", "说明（保留理由）"]) {
        head.appendChild(el("th", title));
      }
      const body = table.createTBody();
      for (const f of group.findings) {
        const row = body.insertRow();
        row.className = "nb-finding nb-" + f.severity;
        row.dataset.rule = f.rule;
        row.dataset.location = f.location;
        for (const value of [f.label, f.rule, f.cell, f.row, f.column, f.found, f.expected, f.message, f.explanation]) {
          row.appendChild(el("td", value));
        }
      }
      box.appendChild(table);
      groups.appendChild(box);
    }
    const readable = !answer.error;
    $("nb-marked").disabled = !readable;
    $("nb-pdf").disabled = !answer.can_export;
    $("nb-pdf").title = answer.can_export ? "" : "还有错误（或文件无法读取）时不导出 PDF";
    $("nb-draft-box").hidden = !answer.draft;
    $("nb-draft").value = answer.draft || "";
    const submit = $("nb-submit");
    if (submit) submit.disabled = !readable;
  }

  async function check() {
    showError("");
    $("nb-result").hidden = true;
    const receipt = $("nb-receipt");
    if (receipt) receipt.hidden = true;
    chosen = $("nb-file").files[0] || null;
    if (!chosen) return;
    say("nb-status", `正在检查“${chosen.name}”……`);
    try {
      const response = await post("/check", { file: chosen });
      if (!response.ok) {
        say("nb-status", "");
        showError(await errorOf(response));
        return;
      }
      renderCheck(await response.json());
      say("nb-status", `已检查“${chosen.name}”。`);
    } catch (e) {
      say("nb-status", "");
      showError("无法连接服务器，请检查网络后重试。");
    }
  }

  async function download(path, fallback) {
    if (!chosen) return;
    showError("");
    say("nb-download-status", "正在生成，请稍候……");
    try {
      const response = await post(path, { file: chosen });
      if (!response.ok) {
        say("nb-download-status", "");
        showError(await errorOf(response));
        return;
      }
      const blob = await response.blob();
      const link = el("a");
      link.href = URL.createObjectURL(blob);
      link.download = fileNameOf(response, fallback);
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      say("nb-download-status", `已下载“${link.download}”。`);
    } catch (e) {
      say("nb-download-status", "");
      showError("无法连接服务器，请检查网络后重试。");
    }
  }

  function row(table, label, value, id) {
    const tr = table.insertRow();
    tr.appendChild(el("th", label));
    const td = el("td", value);
    if (id) td.id = id;
    tr.appendChild(td);
  }

  function renderReceipt(answer) {
    const box = $("nb-receipt");
    box.replaceChildren();
    box.hidden = false;
    box.className = "nb-receipt" + (answer.accepted ? "" : " nb-refused");
    box.appendChild(el("h3", answer.accepted ? `报送成功：回执第 ${answer.number} 号` : `未能报送：第 ${answer.number} 号（已退回）`,
      answer.accepted ? "nb-ok-text" : "nb-alert"));
    if (!answer.accepted) box.appendChild(el("p", answer.reason, "nb-alert"));
    const table = el("table", null, "nb-table nb-kv");
    row(table, "单位", answer.unit, "nb-receipt-unit");
    row(table, "接收时间", answer.received_at, "nb-receipt-time");
    row(table, "校验结论", answer.verdict, "nb-receipt-verdict");
    row(table, "错误 / 提示", `错误 ${answer.hard} 处，提示 ${answer.soft} 处（已说明 ${answer.explained} 处）`, "nb-receipt-counts");
    row(table, "文件", answer.original_name);
    row(table, "SHA-256", answer.sha256, "nb-receipt-sha");
    box.appendChild(table);
    const links = el("p", null, "nb-actions");
    const view = el("a", "打开回执（可打印）", "nb-button");
    view.href = answer.receipt_url;
    view.target = "_blank";
    view.rel = "noopener";
    view.id = "nb-receipt-link";
    const keep = el("a", "下载回执", "nb-button");
    keep.href = answer.receipt_url + "?download=1";
    keep.id = "nb-receipt-download";
    links.append(view, " ", keep);
    box.appendChild(links);
    if (answer.check) renderCheck(answer.check);
  }

  async function submit() {
    showError("");
    const code = $("nb-code").value.trim();
    if (!chosen) { showError("请先选择要报送的工作簿。"); return; }
    if (!code) { showError("请填写县政务公开办发放的报送码。"); return; }
    $("nb-submit").disabled = true;
    say("nb-submit-status", "正在报送……");
    try {
      const response = await post("/submit", { file: chosen, code });
      say("nb-submit-status", "");
      if (!response.ok) {
        showError(await errorOf(response));
        return;
      }
      renderReceipt(await response.json());
    } catch (e) {
      say("nb-submit-status", "");
      showError("无法连接服务器，请检查网络后重试（是否已报送，可稍后再报送一次，以最后一次为准）。");
    } finally {
      $("nb-submit").disabled = !chosen;
    }
  }

  async function withdraw() {
    showError("");
    const code = $("nb-code").value.trim();
    if (!code) { showError("撤回也需要报送码，请先填写。"); return; }
    if (!window.confirm("确定撤回本单位已报送的文件吗？撤回后县政务公开办将看到“已撤回”，需要时请重新报送。")) return;
    try {
      const response = await post("/withdraw", { code });
      if (!response.ok) { showError(await errorOf(response)); return; }
      say("nb-submit-status", (await response.json()).message);
    } catch (e) {
      showError("无法连接服务器，请检查网络后重试。");
    }
  }

  async function copyDraft() {
    const text = $("nb-draft").value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      $("nb-draft").select();
      document.execCommand("copy");
    }
    say("nb-copy-status", "已复制，可粘贴到封面“一、总体情况”中。");
  }

  window.addEventListener("DOMContentLoaded", () => {
    $("nb-file").addEventListener("change", check);
    $("nb-marked").addEventListener("click", () => download("/marked", "校验标记.xlsx"));
    $("nb-pdf").addEventListener("click", () => download("/pdf", "年度报告.pdf"));
    $("nb-copy").addEventListener("click", copyDraft);
    if ($("nb-submit")) {
      $("nb-submit").addEventListener("click", submit);
      $("nb-withdraw").addEventListener("click", withdraw);
    }
    document.body.dataset.ready = "1";
  });
})();
