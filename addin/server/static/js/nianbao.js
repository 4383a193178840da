// 政务公开年报 task pane: lists the findings of 校验 and jumps to a cell when one is clicked.
//
// The server's answer to 校验 ends with a runMacro action ("nbShowFindings", JSON), which the
// xlwings client dispatches to globalThis.callbacks; 计算合计 may end with a yes/no alert whose
// answer goes to "nbFillZeros". Both are registered here. Everything shown is Chinese.
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

  async function nbFillZeros(answer) {
    if (answer === "yes") {
      await globalThis.xlwings.runPython({ scriptName: "fill_zeros" });
    }
  }

  // xlwings' client creates globalThis.callbacks when its module loads; register after it.
  function register() {
    globalThis.callbacks = globalThis.callbacks || {};
    globalThis.callbacks.nbShowFindings = nbShowFindings;
    globalThis.callbacks.nbFillZeros = nbFillZeros;
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
  globalThis.nianbao = { render: render, goTo: goTo };
})();
