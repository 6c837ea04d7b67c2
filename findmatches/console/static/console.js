// The findmatches console: live run status, form helpers, and the labeling page's keyboard and drafts.
// Every page works without it; this only makes them quicker to use.
"use strict";

function pollStatus(element) {
  const url = element.dataset.statusUrl;
  const tick = async () => {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const state = await response.json();
        element.textContent = state.status;
        if (state.done) { window.location.reload(); return; }
      }
    } catch (e) { /* the server may be restarting: try again */ }
    window.setTimeout(tick, 1000);
  };
  window.setTimeout(tick, 1000);
}

function formHelpers() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => {
      if (select.id === "database" && select.form.table) select.form.table.value = "";
      select.form.submit();
    });
  }
  for (const range of document.querySelectorAll('input[type="range"]')) {
    const output = document.querySelector(`output[for="${range.id}"]`);
    if (output) range.addEventListener("input", () => { output.textContent = range.value; });
  }
}

function labeling(form) {
  const key = form.dataset.draftKey;
  const sets = Array.from(form.querySelectorAll(".labeling-set"));
  const inputs = (set) => Array.from(set.querySelectorAll(".label-input"));
  const save = () => {
    const draft = {};
    for (const input of form.querySelectorAll(".label-input")) if (input.value) draft[input.name] = input.value;
    try { localStorage.setItem(key, JSON.stringify(draft)); } catch (e) { /* storage full or off */ }
  };
  try {  // a reload keeps the work: restore what this browser saved
    const draft = JSON.parse(localStorage.getItem(key) || "{}");
    for (const input of form.querySelectorAll(".label-input")) if (draft[input.name]) input.value = draft[input.name];
  } catch (e) { /* no draft */ }

  let current = 0;
  const show = (index, focus) => {
    current = Math.max(0, Math.min(index, sets.length - 1));
    sets.forEach((set, i) => { set.hidden = i !== current; });
    if (focus) inputs(sets[current])[0]?.focus();
  };
  const next = () => {
    if (current === sets.length - 1) form.querySelector('[type="submit"]').focus();
    else show(current + 1, true);
  };
  const allSame = (set, from) => {
    const value = (from && from.value) || inputs(set).map((i) => i.value).find((v) => v) || "1";
    for (const input of inputs(set)) input.value = value;
    save();
  };
  const allDifferent = (set) => {
    inputs(set).forEach((input, i) => { input.value = String(i + 1); });
    save();
  };
  sets.forEach((set) => {
    set.querySelector("[data-all-same]").addEventListener("click", () => allSame(set));
    set.querySelector("[data-all-different]").addEventListener("click", () => allDifferent(set));
    set.querySelector("[data-next-set]").addEventListener("click", next);
    set.querySelector("[data-previous-set]").addEventListener("click", () => show(current - 1, true));
  });
  // Grouping by click: click a record, then another of the same entity: the second joins the first's group
  // (a record without one gets the set's next free group first). A click on the picked record unpicks it.
  let picked = null;
  const freeGroup = (set) => {
    const used = new Set(inputs(set).map((i) => i.value));
    for (let n = 1; ; n++) if (!used.has(String(n))) return String(n);
  };
  sets.forEach((set) => {
    for (const row of set.querySelectorAll("tr[data-record-id]")) {
      row.addEventListener("click", (event) => {
        if (event.target.closest("input, button, a")) return;
        const input = row.querySelector(".label-input");
        if (picked && picked !== row && picked.closest(".labeling-set") === set) {
          input.value = picked.querySelector(".label-input").value;
          picked.classList.remove("picked");
          picked = null;
          save();
          return;
        }
        if (picked) picked.classList.remove("picked");
        if (picked === row) { picked = null; return; }
        if (!input.value) { input.value = freeGroup(set); save(); }
        picked = row;
        row.classList.add("picked");
      });
    }
  });
  form.addEventListener("input", save);
  form.addEventListener("keydown", (event) => {
    const input = event.target;
    if (!input.classList || !input.classList.contains("label-input")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const set = input.closest(".labeling-set");
    const mine = inputs(set);
    if (event.key === "Enter") {
      event.preventDefault();  // never submit by accident
      if (event.shiftKey) show(current - 1, true); else next();
    } else if (event.key === "=") {
      event.preventDefault(); allSame(set, input);
    } else if (event.key === "-") {
      event.preventDefault(); allDifferent(set);
    } else if (/^[0-9A-Za-z]$/.test(event.key)) {
      event.preventDefault();
      input.value = event.key;
      save();
      const after = mine[mine.indexOf(input) + 1];
      if (after) after.focus(); else set.querySelector("[data-next-set]").focus();
    }
  });
  form.addEventListener("submit", () => {
    try { localStorage.removeItem(key); } catch (e) { /* nothing kept */ }
  });
  // Open at the first set still to do, its first record without a group focused: a keyboard user starts at once.
  const firstOpen = sets.findIndex((set) => inputs(set).some((input) => !input.value));
  show(firstOpen < 0 ? 0 : firstOpen, false);
  if (firstOpen >= 0) inputs(sets[firstOpen]).find((input) => !input.value)?.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  for (const element of document.querySelectorAll("[data-status-url]")) pollStatus(element);
  formHelpers();
  for (const form of document.querySelectorAll("form[data-labeling]")) labeling(form);
  document.documentElement.dataset.jsReady = "true";  // the handlers are attached (tests wait for it)
});
