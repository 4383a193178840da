// 政务公开年报: the credentials xlwings' client sends with every script call (replaces xlwings'
// static/js/auth.js; the server serves this project's static files first).
//
// With an access token configured on the server (provider "nianbao"), the clerk types the token
// once into the task pane's 访问口令 box; it is kept in this Excel's local storage for this
// server only, and sent as "Authorization: Bearer …" by the ribbon, the task pane and uploads.
// Microsoft Entra ID, when IT configured it instead, works as in xlwings.
(function () {
  "use strict";
  const KEY = "nianbao.accessToken";

  function providers() {
    return (globalThis.config && globalThis.config.authProviders) || [];
  }

  function stored() {
    try {
      return globalThis.localStorage.getItem(KEY) || "";
    } catch (error) {
      return "";
    }
  }

  function save(value) {
    const token = String(value || "").trim();
    try {
      if (token) globalThis.localStorage.setItem(KEY, token);
      else globalThis.localStorage.removeItem(KEY);
      return true;
    } catch (error) {
      console.warn(error);
      return false;
    }
  }

  globalThis.nianbaoToken = { get: stored, save: save, required: () => providers().includes("nianbao") };

  globalThis.getAuth = async function () {
    const list = providers();
    if (list.includes("nianbao")) {
      const token = stored();
      return { token: token ? "Bearer " + token : "", provider: "nianbao" };
    }
    if (list.includes("entraid")) {
      return { token: await globalThis.xlwings.getAccessToken(), provider: "entraid" };
    }
    return { token: "", provider: "" };
  };
})();
