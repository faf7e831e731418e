// Flowspace dashboard: small conveniences on top of pages that work without this script.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // The workspace switcher submits as soon as a workspace is chosen.
  document.querySelectorAll("select[data-autosubmit]").forEach((s) => {
    s.addEventListener("change", () => s.form.submit());
  });

  // Copy buttons: data-copy names the input to copy.
  document.querySelectorAll("[data-copy]").forEach((b) => {
    b.addEventListener("click", async () => {
      const input = document.querySelector(b.dataset.copy);
      if (!input) return;
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (_) {
        document.execCommand("copy");
      }
      b.textContent = "Copied";
    });
  });

  // JSON editors: check the text before the form goes, and say where it is wrong.
  const checkJson = (area) => {
    const out = area.parentElement.querySelector(".json-error");
    let msg = "";
    if (area.value.trim() !== "" || !area.hasAttribute("data-optional")) {
      try {
        const v = JSON.parse(area.value);
        if (v === null || typeof v !== "object" || Array.isArray(v)) msg = "Must be a JSON object.";
      } catch (e) {
        msg = "Not valid JSON: " + e.message;
      }
    }
    area.classList.toggle("invalid", msg !== "");
    if (out) out.textContent = msg;
    return msg === "";
  };
  document.querySelectorAll("textarea[data-json]").forEach((area) => {
    area.addEventListener("input", () => checkJson(area));
    area.form.addEventListener("submit", (ev) => {
      if (!checkJson(area)) {
        ev.preventDefault();
        area.focus();
      } else if (area.value.trim() === "" && area.hasAttribute("data-optional")) {
        area.disabled = true; // an empty optional editor keeps what is stored
      }
    });
  });

  // Role grids: ticking any action of a resource ticks its view; unticking view unticks the rest.
  document.querySelectorAll("[data-grid]").forEach((grid) => {
    grid.addEventListener("change", (ev) => {
      const box = ev.target;
      if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
      const [resource, action] = box.value.split(":");
      const row = grid.querySelectorAll(`input[value^="${resource}:"]`);
      if (box.checked && action !== "view") {
        row.forEach((b) => { if (b.value === `${resource}:view`) b.checked = true; });
      } else if (!box.checked && action === "view") {
        row.forEach((b) => { b.checked = false; });
      }
    });
  });

  // Sign-in page: "Sign in with …" for the single sign-on providers of the typed email's
  // organization (SPEC §8). Without JavaScript the password form is all there is.
  const sso = document.getElementById("sso-buttons");
  const loginEmail = document.querySelector("#login-form input[name=email]");
  if (sso && loginEmail) {
    let asked = "";
    const offer = async () => {
      const email = loginEmail.value.trim();
      if (email === asked || !email.includes("@")) return;
      asked = email;
      try {
        const res = await fetch("/api/v1/auth/sso-providers?email=" + encodeURIComponent(email));
        if (!res.ok || asked !== email) return;
        const { items } = await res.json();
        sso.replaceChildren(...items.map((p) => {
          const a = document.createElement("a");
          a.className = "btn block sso-button";
          a.href = p.startUrl + "?next=" + encodeURIComponent(sso.dataset.next || "/");
          a.textContent = "Sign in with " + p.displayName;
          return a;
        }));
        sso.hidden = items.length === 0;
      } catch (_) { /* the password form still works */ }
    };
    loginEmail.addEventListener("change", offer);
    loginEmail.addEventListener("blur", offer);
    loginEmail.addEventListener("input", () => { clearTimeout(loginEmail._t); loginEmail._t = setTimeout(offer, 400); });
  }

  // A table wider than the page scrolls sideways in its frame: the frame takes the focus
  // (then the arrow keys scroll it), named after the section it is in.
  const scrollable = () => document.querySelectorAll(".tablewrap").forEach((w) => {
    if (w.scrollWidth > w.clientWidth) {
      if (!w.hasAttribute("tabindex")) {
        const card = w.closest(".card");
        const heading = (card && card.querySelector("h2")) || document.querySelector("h1");
        w.setAttribute("tabindex", "0");
        w.setAttribute("role", "region");
        w.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table");
      }
    } else if (w.getAttribute("role") === "region") {
      ["tabindex", "role", "aria-label"].forEach((a) => w.removeAttribute(a));
    }
  });
  scrollable();
  window.addEventListener("resize", scrollable);

  // Toasts leave on a click too.
  const toast = document.getElementById("toast");
  if (toast) toast.addEventListener("click", () => toast.remove());

  // Dialogs (a `.modal` shows while its id is the URL's fragment). Opening one moves the
  // focus into it (its first field, else its first button or link other than the ×); Tab and
  // Shift+Tab stay inside it; Escape closes it; closing gives the focus back to what opened it.
  const openDialog = () => {
    const id = decodeURIComponent(location.hash.slice(1));
    const el = id ? document.getElementById(id) : null;
    return el && el.classList.contains("modal") ? el : null;
  };
  const opener = (dialog) => document.querySelector(`a[href="#${CSS.escape(dialog.id)}"]`);
  const focusables = (dialog) => [...dialog.querySelectorAll(
    ".dialog :is(a[href], button, input:not([type=hidden]), select, textarea, summary)",
  )].filter((el) => !el.disabled && el.getClientRects().length > 0);
  // The scrim closes a dialog on a click; the keyboard has Escape and the buttons.
  document.querySelectorAll(".modal-scrim").forEach((a) => a.setAttribute("tabindex", "-1"));
  let shown = null;
  let returnTo = null;
  const dialogChanged = () => {
    const dialog = openDialog();
    if (dialog && dialog !== shown) {
      if (!shown) {
        const active = document.activeElement;
        returnTo = active && active !== document.body ? active : opener(dialog);
      }
      shown = dialog;
      const all = focusables(dialog);
      const first = all.find((el) => el.matches("input, select, textarea"))
        || all.find((el) => !el.classList.contains("close")) || all[0];
      if (first) first.focus();
    } else if (!dialog && shown) {
      const back = returnTo && document.contains(returnTo) ? returnTo : opener(shown);
      shown = null;
      returnTo = null;
      if (back) back.focus();
    }
  };
  window.addEventListener("hashchange", dialogChanged);
  dialogChanged();

  document.addEventListener("keydown", (ev) => {
    if (!shown) return;
    if (ev.key === "Escape") {
      ev.preventDefault();
      location.hash = "";
    } else if (ev.key === "Tab") {
      const all = focusables(shown);
      if (all.length === 0) return;
      const at = all.indexOf(document.activeElement);
      const next = ev.shiftKey
        ? (at <= 0 ? all[all.length - 1] : all[at - 1])
        : (at === -1 || at === all.length - 1 ? all[0] : all[at + 1]);
      ev.preventDefault();
      next.focus();
    }
  });
});
