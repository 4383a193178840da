// 政务公开年报 task pane: lists the findings of 校验 and jumps to a cell when one is clicked;
// offers the files 导出PDF and 汇总 make; uploads the units' files for 汇总.
//
// The server's answer to 校验 ends with a runMacro action ("nbShowFindings", JSON), which the
// xlwings client dispatches to globalThis.callbacks; 计算合计 may end with a yes/no alert whose
// answer goes to "nbFillZeros", and 生成数据段落 (when 一、总体情况 already holds text) with one
// whose answer goes to "nbDraftOverview"; 导出PDF and 汇总 end with "nbOffer" (a download link
// and what to say about it). All are registered here. Everything shown is Chinese.
(function () {
  "use strict";

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function quoteSheet(name) {
    return "'" + String(name).replace(/'/g, "''") + "'";
  }

  // Activate the finding's sheet and select its cell.
  async function goTo(sheet, cell) {
    await Excel.run(async (context) => {
      const worksheet = context.workbook.worksheets.getItem(sheet);
      worksheet.activate();
      worksheet.getRange(cell).select();
      await context.sync();
    });
  }

  function render(data) {
    const list = document.getElementById("nb-findings");
    const verdict = document.getElementById("nb-verdict");
    const hint = document.getElementById("nb-hint");
    if (!list || !verdict) return;
    verdict.textContent = (data.unit ? data.unit + "：" : "") + data.verdict;
    list.replaceChildren();
    for (const finding of data.findings) {
      const item = element("li", "list-group-item list-group-item-action nb-finding nb-" + finding.severity);
      item.setAttribute("role", "button");
      item.tabIndex = 0;
      item.dataset.sheet = finding.sheet;
      item.dataset.cell = finding.cell;
      const badge = element(
        "span",
        "badge me-1 " + (finding.severity === "hard" ? "text-bg-danger" : "text-bg-warning"),
        finding.label,
      );
      const head = element("div", "nb-head");
      head.append(badge, element("span", "nb-location", finding.location), element("span", "nb-rule ms-1 text-body-secondary", finding.rule));
      item.append(head, element("div", "nb-message small", finding.message));
      if (finding.explanation) {
        item.append(element("div", "nb-explanation small text-body-secondary", "说明：" + finding.explanation));
      }
      const jump = () => goTo(finding.sheet, finding.cell).catch((error) => console.error(error));
      item.addEventListener("click", jump);
      item.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") jump();
      });
      list.append(item);
    }
    if (hint) hint.classList.toggle("d-none", data.findings.length === 0);
  }

  // Office.js links cells to places in the workbook through documentReference, which the
  // generic addHyperlink action does not set: link the 校验结果 rows here instead.
  async function linkResults(context, data) {
    const results = data.results;
    if (!context || !results || !results.column || data.findings.length === 0) return;
    const requirements = Office.context && Office.context.requirements;
    if (!requirements || !requirements.isSetSupported("ExcelApi", "1.7")) return;
    const sheet = context.workbook.worksheets.getItemOrNullObject(results.sheet);
    await context.sync();
    if (sheet.isNullObject) return;
    data.findings.forEach((finding, i) => {
      sheet.getRange(results.column + (results.first_row + i)).hyperlink = {
        documentReference: quoteSheet(finding.sheet) + "!" + finding.cell,
        textToDisplay: finding.location,
        screenTip: "定位到该单元格",
      };
    });
    await context.sync();
  }

  async function nbShowFindings(context, json) {
    const data = typeof json === "string" ? JSON.parse(json) : json;
    render(data);
    await linkResults(context, data);
    if (Office.addin && typeof Office.addin.showAsTaskpane === "function" && data.findings.length) {
      try {
        await Office.addin.showAsTaskpane();
      } catch (error) {
        console.warn(error);
      }
    }
  }

  // A script run on the clerk's answer, with the add-in's authentication like the buttons.
  async function runScript(scriptName) {
    const auth = await authOf();
    await globalThis.xlwings.runPython({
      scriptName: scriptName,
      auth: auth.token,
      headers: { "Auth-Provider": auth.provider },
    });
  }

  async function nbFillZeros(answer) {
    if (answer === "yes") await runScript("fill_zeros");
  }

  // 生成数据段落 asked before changing the clerk's text of 一、总体情况: only a yes writes it.
  async function nbDraftOverview(answer) {
    if (answer === "yes") await runScript("draft_apply");
  }

  // The server's routes live below the app path (config.appPath, from the base page).
  function serverUrl(path) {
    const appPath = (globalThis.config && globalThis.config.appPath) || "";
    return new URL(appPath + path, document.baseURI).href;
  }

  async function authOf() {
    if (typeof globalThis.getAuth !== "function") return { token: "", provider: "" };
    try {
      return await globalThis.getAuth();
    } catch (error) {
      console.warn(error);
      return { token: "", provider: "" };
    }
  }

  // Open a download in the system browser (Excel's own web view may not download files).
  function openDownload(url) {
    const ui = globalThis.Office && Office.context && Office.context.ui;
    if (ui && typeof ui.openBrowserWindow === "function") {
      try {
        ui.openBrowserWindow(url);
        return;
      } catch (error) {
        console.warn(error);
      }
    }
    window.open(url, "_blank", "noopener");
  }

  function renderOffer(data) {
    const box = document.getElementById("nb-offer");
    if (!box) return null;
    document.getElementById("nb-offer-title").textContent = data.title;
    const message = document.getElementById("nb-offer-message");
    message.replaceChildren(...String(data.message).split("\n").map((line) => element("p", "mb-1", line)));
    const sentence = document.getElementById("nb-offer-sentence");
    sentence.textContent = data.sentence || "";
    sentence.classList.toggle("d-none", !data.sentence);
    const table = document.getElementById("nb-offer-figures");
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const [label, value] of data.figures || []) {
      const row = element("tr");
      row.append(element("td", "", label), element("td", "text-end nb-figure", value));
      body.append(row);
    }
    table.classList.toggle("d-none", !(data.figures || []).length);
    const url = serverUrl(data.url);
    const link = document.getElementById("nb-offer-link");
    link.href = url;
    link.textContent = data.label + "：" + data.filename;
    link.setAttribute("download", data.filename);
    link.onclick = (event) => {
      event.preventDefault();
      openDownload(url);
    };
    box.classList.remove("d-none");
    return url;
  }

  async function nbOffer(context, json) {
    const data = typeof json === "string" ? JSON.parse(json) : json;
    const url = renderOffer(data);
    if (Office.addin && typeof Office.addin.showAsTaskpane === "function") {
      try {
        await Office.addin.showAsTaskpane();
      } catch (error) {
        console.warn(error);
      }
    }
    if (url && data.kind === "pdf") openDownload(url);
  }

  function say(text) {
    const status = document.getElementById("nb-summary-status");
    if (status) status.textContent = text;
  }

  // 汇总: upload the chosen files as one batch, then run the script with the batch's token.
  async function consolidate() {
    const input = document.getElementById("nb-units");
    const button = document.getElementById("nb-consolidate");
    const files = Array.from((input && input.files) || []);
    if (files.length === 0) {
      say("请先选择各单位报送的文件（可多选）。");
      return;
    }
    button.disabled = true;
    try {
      say("正在上传 " + files.length + " 个文件……");
      const form = new FormData();
      for (const file of files) form.append("files", file, file.name);
      form.append("mtimes", JSON.stringify(files.map((file) => file.lastModified || 0)));
      const auth = await authOf();
      const headers = auth.token ? { Authorization: auth.token, "Auth-Provider": auth.provider } : {};
      const response = await fetch(serverUrl("/nianbao/upload"), { method: "POST", body: form, headers: headers });
      let answer = {};
      try {
        answer = await response.json();
      } catch (error) {
        answer = {};
      }
      if (!response.ok) {
        say("上传失败：" + (answer.detail || response.statusText || response.status));
        return;
      }
      say("已上传 " + answer.files + " 个文件，正在汇总……");
      await globalThis.xlwings.runPython({
        scriptName: "consolidate",
        args: [answer.batch],
        auth: auth.token,
        headers: { "Auth-Provider": auth.provider },
      });
      say("");
    } catch (error) {
      console.error(error);
      say("汇总没有完成：" + error);
    } finally {
      button.disabled = false;
    }
  }

  // 访问口令: saved in this Excel's local storage (static/js/auth.js sends it with every call).
  function bindToken() {
    const input = document.getElementById("nb-token");
    const button = document.getElementById("nb-token-save");
    const status = document.getElementById("nb-token-status");
    const store = globalThis.nianbaoToken;
    if (!input || !button || !store || button.dataset.nbBound) return;
    button.dataset.nbBound = "1";
    if (status) status.textContent = store.get() ? "已保存访问口令。" : "尚未填写访问口令。";
    button.addEventListener("click", () => {
      const ok = store.save(input.value);
      input.value = "";
      if (status) status.textContent = ok ? (store.get() ? "已保存访问口令。" : "已清除访问口令。") : "无法保存访问口令。";
    });
  }

  // xlwings' client creates globalThis.callbacks when its module loads; register after it.
  function register() {
    globalThis.callbacks = globalThis.callbacks || {};
    globalThis.callbacks.nbShowFindings = nbShowFindings;
    globalThis.callbacks.nbFillZeros = nbFillZeros;
    globalThis.callbacks.nbDraftOverview = nbDraftOverview;
    globalThis.callbacks.nbOffer = nbOffer;
    const button = document.getElementById("nb-consolidate");
    if (button && !button.dataset.nbBound) {
      button.dataset.nbBound = "1";
      button.addEventListener("click", consolidate);
    }
    bindToken();
  }

  // The base page's "did not load" prompt is English; say it in Chinese.
  function translateLoadPrompt() {
    const box = document.getElementById("xlwings-office-ready-error");
    if (!box) return;
    const text = box.querySelector(".mb-3");
    if (text) text.textContent = "加载项没有正常加载。";
    const reload = document.getElementById("xlwings-taskpane-reload-btn");
    if (reload) reload.textContent = "重新加载";
    const cancel = document.getElementById("xlwings-taskpane-reload-cancel-btn");
    if (cancel) cancel.textContent = "取消";
  }

  register();
  translateLoadPrompt();
  document.addEventListener("DOMContentLoaded", () => {
    register();
    translateLoadPrompt();
  });
  globalThis.nianbao = { render: render, goTo: goTo, renderOffer: renderOffer, consolidate: consolidate };
})();
