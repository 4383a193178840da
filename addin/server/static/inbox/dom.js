// The two DOM helpers both inbox pages use: find by id, and make an element whose text is set
// with textContent (never as HTML: unit names, file names and findings come from files).
"use strict";

window.nbDom = Object.freeze({
  $: (id) => document.getElementById(id),
  el: (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  },
});
