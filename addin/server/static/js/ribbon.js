// Ribbon buttons of the 政务公开年报 tab. manifest.xml names a FunctionName per button;
// each is bound here to the xlwings Server script of the same job (custom_scripts/scripts.py).
// The ribbon shares one runtime with the task pane, so a 校验 started here fills its list.
(function () {
  "use strict";
  const BUTTONS = {
    nbValidate: "validate",
    nbFillTotals: "fill_totals",
    nbClearMarks: "clear_marks",
    nbExportPdf: "export_pdf",
    nbDraft: "draft",
  };

  async function run(scriptName, event) {
    try {
      const auth =
        typeof globalThis.getAuth === "function"
          ? await globalThis.getAuth()
          : { token: "", provider: "" };
      await globalThis.xlwings.runPython({
        scriptName: scriptName,
        auth: auth.token,
        headers: { "Auth-Provider": auth.provider },
      });
    } finally {
      event.completed();
    }
  }

  if (typeof Office !== "undefined" && Office.actions) {
    for (const [name, scriptName] of Object.entries(BUTTONS)) {
      Office.actions.associate(name, (event) => run(scriptName, event));
    }
  }
})();
